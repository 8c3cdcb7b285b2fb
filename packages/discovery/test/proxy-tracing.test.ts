import { connect } from 'node:net';
import { startHttpServer, type TestHttpServer } from '@ballast/test-utils';
import { createTestTracing } from '@ballast/tracing/testing';
import { afterAll, beforeAll, expect, it } from 'vitest';
import * as nh from '../src/adapters/node-http.ts';
import { staticRegistry } from '../src/index.ts';
import { createRouter, type Router } from '../src/router/index.ts';

// The proxy hop as a trace shows it: the gateway's SERVER span, under it exactly one CLIENT span
// for the upstream call, and the upstream sees that client span's traceparent (not the client's).

const tracing = createTestTracing({ serviceName: 'gateway' });
let upstream: TestHttpServer;
let gateway: TestHttpServer;
let router: Router;
const seen: (string | undefined)[] = [];

beforeAll(async () => {
  upstream = await startHttpServer((req, res) => {
    seen.push(req.headers.traceparent as string | undefined);
    res.end('ok');
  });
  router = createRouter([{ match: { pathPrefix: '/api' }, to: 'http://orders' }], {
    registry: staticRegistry([
      { id: 'o1', service: 'orders', address: '127.0.0.1', port: upstream.port },
    ]),
  });
  gateway = await startHttpServer(nh.proxy(router));
});
afterAll(async () => {
  await gateway.close();
  await upstream.close();
  await router.close();
  await tracing.shutdown();
});

it('is one client span under the server span, whose traceparent the upstream gets', async () => {
  tracing.reset();
  seen.length = 0;
  const traceId = '0af7651916cd43dd8448eb211c80319c';
  const clientParent = `00-${traceId}-b7ad6b7169203331-01`;
  // a raw socket: an instrumented client (fetch, node:http) would write its own traceparent
  const response = await sendRaw(
    gateway.port,
    `GET /api/x HTTP/1.1\r\nHost: gw\r\ntraceparent: ${clientParent}\r\ntracestate: vendor=1\r\nConnection: close\r\n\r\n`,
  );
  expect(response).toMatch(/^HTTP\/1\.1 200[\s\S]*ok$/);
  // gateway SERVER (child of the client's span) -> one CLIENT -> the upstream's SERVER (same process)
  await expect.poll(() => tracing.spans({ kind: 'server', traceId }).length).toBe(2);
  const gatewaySpan = tracing
    .spans({ kind: 'server', traceId })
    .find((span) => span.parentSpanId === 'b7ad6b7169203331')!;
  expect(gatewaySpan).toBeDefined();
  const clients = tracing.spans({ kind: 'client', traceId });
  expect(clients).toHaveLength(1);
  expect(clients[0]!.parentSpanId).toBe(gatewaySpan.spanId);
  const upstreamSpan = tracing
    .spans({ kind: 'server', traceId })
    .find((span) => span !== gatewaySpan)!;
  expect(upstreamSpan.parentSpanId).toBe(clients[0]!.spanId);
  expect(seen).toEqual([`00-${traceId}-${clients[0]!.spanId}-01`]);
});

function sendRaw(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let out = '';
    socket.on('data', (chunk) => {
      out += chunk.toString('latin1');
    });
    socket.on('end', () => resolve(out));
    socket.on('error', reject);
    socket.write(text);
  });
}
