import http from 'node:http';
import { createVerifier, type Verifier } from '@ballast/auth';
import { requireAuth } from '@ballast/auth/express';
import { createTestIssuer, type TestIssuer } from '@ballast/auth/testing';
import { retry } from '@ballast/breaker';
import { memoryStore } from '@ballast/idempotency';
import { idempotency } from '@ballast/idempotency/express';
import { startHttpServer, type TestHttpServer } from '@ballast/test-utils';
import express from 'express';
import { request } from 'undici';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createTestTracing } from '../src/testing.ts';

// The Ballast packages' own telemetry lands in the request's trace: the auth verification and the
// idempotency span are children of the server span, the breaker's retry is an event on it, and both
// downstream attempts (undici) are children carrying traceparent.

const tracing = createTestTracing({ serviceName: 'orders' });
let issuer: TestIssuer;
let verifier: Verifier;
let downstream: TestHttpServer;
let app: TestHttpServer;
const downstreamTraceparents: (string | undefined)[] = [];

beforeAll(async () => {
  issuer = await createTestIssuer();
  verifier = createVerifier({
    issuer: issuer.url,
    audience: issuer.audience,
    discovery: true,
    algorithms: ['RS256'],
  });
  let calls = 0;
  downstream = await startHttpServer((req, res) => {
    downstreamTraceparents.push(req.headers.traceparent as string | undefined);
    calls += 1;
    res.statusCode = calls === 1 ? 503 : 200; // the first attempt fails, the retry succeeds
    res.end(calls === 1 ? 'busy' : '7');
  });
  const policy = retry({ maxAttempts: 3, initialDelayMs: 1, maxDelayMs: 5 });
  const orders = express();
  orders.post(
    '/orders',
    requireAuth(verifier),
    idempotency({ store: memoryStore() }),
    async (_req, res) => {
      const stock = await policy.execute(async ({ signal }) => {
        const response = await request(`${downstream.url}/stock`, { signal });
        const text = await response.body.text();
        if (response.statusCode >= 500)
          throw new Error(`inventory answered ${response.statusCode}`);
        return text;
      });
      res.status(201).json({ stock });
    },
  );
  app = await startHttpServer(http.createServer(orders));
});

afterAll(async () => {
  await app.close();
  await downstream.close();
  verifier.close();
  await issuer.close();
  await tracing.shutdown();
});

it('puts auth, idempotency, breaker and the downstream calls under the server span', async () => {
  tracing.reset();
  const token = await issuer.sign({ sub: 'user-1' });
  const response = await fetch(`${app.url}/orders`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${token}`,
      'idempotency-key': 'order-1',
      'content-type': 'application/json',
    },
    body: JSON.stringify({ sku: 'abc' }),
  });
  expect(response.status).toBe(201);
  expect(await response.json()).toEqual({ stock: '7' });
  for (let i = 0; i < 100 && tracing.spans({ name: 'POST /orders' }).length === 0; i++)
    await new Promise((resolve) => setTimeout(resolve, 5));

  const [server] = tracing.spans({ name: 'POST /orders', kind: 'server' });
  expect(server?.attributes['http.route']).toBe('/orders');
  expect(server?.events.map((event) => event.name)).toContain('retry');
  const root = tracing
    .tree({ traceId: server?.traceId })
    .flatMap((node) => [node, ...node.children]);
  const serverNode = root.find((node) => node.spanId === server?.spanId);
  const children = serverNode?.children ?? [];
  const names = children.map((child) => child.name);
  expect(names).toContain('ballast.auth.verify');
  expect(names, names.join(', ')).toContain('idempotency POST');
  const attempts = children.filter((child) => child.kind === 'client');
  expect(attempts.map((a) => a.attributes['http.response.status_code'])).toEqual([503, 200]);
  expect(downstreamTraceparents.slice(-2)).toEqual(
    attempts.map((a) => `00-${server?.traceId}-${a.spanId}-01`),
  );
});
