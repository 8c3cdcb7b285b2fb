import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { staticRegistry } from '@ballast/discovery';
import { discoveryDispatcher } from '@ballast/discovery/undici';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { introspection } from '../lib/introspection.ts';

const listen = async (server: Server) => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
};

describe('GET /internal/balancer (what the dashboard reads)', () => {
  let upstream: Server;
  let service: Server;
  let port: number;
  const dispatcher = () => source.dispatcher;
  const source = {
    service: 'orders',
    instance: 'orders-1',
    dispatcher: undefined as unknown as ReturnType<typeof discoveryDispatcher>,
  };

  beforeAll(async () => {
    upstream = createServer((_req, res) => res.end('ok'));
    const upstreamPort = await listen(upstream);
    source.dispatcher = discoveryDispatcher({
      registry: staticRegistry([
        {
          id: 'inventory-1',
          service: 'inventory',
          address: '127.0.0.1',
          port: upstreamPort,
          zone: 'z1',
        },
      ]),
    });
    service = createServer((req, res) => {
      if (introspection(req, res, source)) return;
      res.end('route');
    });
    port = await listen(service);
  });
  afterAll(async () => {
    await dispatcher().close();
    service.close();
    upstream.close();
  });

  it('answers the dispatcher snapshot as JSON; other paths go on to the service', async () => {
    await (await request('http://inventory/x', { dispatcher: dispatcher() })).body.text();
    const res = await fetch(`http://127.0.0.1:${port}/internal/balancer`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as {
      service: string;
      instance: string;
      services: { service: string; endpoints: { id: string; zone: string; successes: number }[] }[];
    };
    expect(body).toMatchObject({ service: 'orders', instance: 'orders-1' });
    expect(body.services[0]).toMatchObject({
      service: 'inventory',
      endpoints: [{ id: 'inventory-1', zone: 'z1', successes: 1 }],
    });
    expect(await (await fetch(`http://127.0.0.1:${port}/other`)).text()).toBe('route');
  });

  it('refuses a request that came through a proxy, and anything but GET', async () => {
    const proxied = await fetch(`http://127.0.0.1:${port}/internal/balancer`, {
      headers: { 'x-forwarded-for': '203.0.113.9' },
    });
    expect(proxied.status).toBe(404);
    const post = await fetch(`http://127.0.0.1:${port}/internal/balancer`, { method: 'POST' });
    expect(post.status).toBe(404);
  });
});
