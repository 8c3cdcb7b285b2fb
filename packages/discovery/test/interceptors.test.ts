import { bearerInterceptor } from '@ballast/auth/undici';
import { breakerInterceptor } from '@ballast/breaker/undici';
import { startHttpServer } from '@ballast/test-utils';
import { request } from 'undici';
import { afterEach, expect, it } from 'vitest';
import { roundRobin, staticRegistry } from '../src/index.ts';
import { discoveryDispatcher } from '../src/undici.ts';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

it("composes with @ballast/auth's bearer and @ballast/breaker's interceptors", async () => {
  const seen: { instance: string; authorization: string | undefined }[] = [];
  const servers = await Promise.all(
    ['a', 'b'].map((name) =>
      startHttpServer((req, res) => {
        seen.push({ instance: name, authorization: req.headers.authorization });
        res.writeHead(req.headers.authorization === 'Bearer t-1' ? 200 : 401);
        res.end(name);
      }),
    ),
  );
  cleanups.push(() => Promise.all(servers.map((server) => server.close())));
  const tokens = { getToken: async () => 't-1', invalidate: () => {} };
  const dispatcher = discoveryDispatcher({
    registry: staticRegistry(
      servers.map((server, i) => ({
        id: ['a', 'b'][i],
        service: 'orders',
        address: '127.0.0.1',
        port: server.port,
      })),
    ),
    balancer: roundRobin(),
  }).compose(
    bearerInterceptor({ tokens: { 'http://orders': tokens } }),
    breakerInterceptor({ breaker: { failureRateThreshold: 0.5 } }),
  );
  cleanups.push(() => dispatcher.close());

  const bodies: string[] = [];
  for (let i = 0; i < 4; i++) {
    const response = await request('http://orders/api/orders/7', { dispatcher });
    expect(response.statusCode).toBe(200);
    bodies.push(await response.body.text());
  }
  expect(bodies.sort()).toEqual(['a', 'a', 'b', 'b']);
  expect(seen.every((s) => s.authorization === 'Bearer t-1')).toBe(true);
});
