import http from 'node:http';
import { createRequire } from 'node:module';
import { startHttpServer } from '@ballast/test-utils';
import type {} from '@ballast/test-utils/global-setup';
import express from 'express';
import Fastify from 'fastify';
import Redis from 'ioredis';
import { request as undiciRequest } from 'undici';
import { afterAll, beforeEach, describe, expect, it, inject as vitestInject } from 'vitest';
import { withSpan } from '../src/index.ts';
import { createTestTracing, type TestSpan } from '../src/testing.ts';

const tracing = createTestTracing({ serviceName: 'instrumentation-test' });
beforeEach(() => tracing.reset());
afterAll(() => tracing.shutdown());

const require = createRequire(import.meta.url);

/** Waits until the server spans have ended (they end on 'finish', just after the client sees the body). */
async function settle(predicate: () => boolean): Promise<void> {
  for (let i = 0; i < 100 && !predicate(); i++)
    await new Promise((resolve) => setTimeout(resolve, 5));
}

function one(spans: TestSpan[]): TestSpan {
  expect(spans).toHaveLength(1);
  return spans[0] as TestSpan;
}

describe('node:http server and client, fetch and undici', () => {
  it('makes server -> client -> server one trace, with traceparent on the wire', async () => {
    const seen: (string | undefined)[] = [];
    const downstream = await startHttpServer((req, res) => {
      seen.push(req.headers.traceparent as string | undefined);
      res.end('down');
    });
    const front = await startHttpServer(async (_req, res) => {
      await fetch(`${downstream.url}/via-fetch?X-Goog-Signature=abc&n=1`).then((r) => r.text());
      await undiciRequest(`${downstream.url}/via-undici`).then((r) => r.body.text());
      await new Promise<void>((resolve) =>
        http.get(`${downstream.url}/via-http`, (r) => r.resume().on('end', resolve)),
      );
      res.end('ok');
    });
    try {
      await new Promise<void>((resolve) =>
        http.get(
          `${front.url}/front?x=1&sig=secret&Signature=s2`,
          { headers: { 'user-agent': 'test' } },
          (r) => r.resume().on('end', resolve),
        ),
      );
      await settle(() => tracing.spans({ kind: 'server' }).length === 4);
      const [root] = tracing.tree();
      // The test's own http.get is the root client span.
      expect(root?.kind).toBe('client');
      const server = root?.children[0];
      expect(server?.kind).toBe('server');
      expect(server?.attributes).toMatchObject({
        'http.request.method': 'GET',
        'url.path': '/front',
        'url.query': 'x=1&sig=REDACTED&Signature=REDACTED', // signed-URL credentials never recorded
        'url.scheme': 'http',
        'http.response.status_code': 200,
        'user_agent.original': 'test',
      });
      const clients = server?.children ?? [];
      expect(clients.map((c) => c.kind)).toEqual(['client', 'client', 'client']);
      expect(clients.map((c) => c.attributes['url.full'])).toEqual([
        `${downstream.url}/via-fetch?X-Goog-Signature=REDACTED&n=1`,
        `${downstream.url}/via-undici`,
        `${downstream.url}/via-http`,
      ]);
      for (const client of clients) {
        expect(client.children.map((c) => c.kind)).toEqual(['server']);
        expect(client.attributes['http.response.status_code']).toBe(200);
      }
      expect(seen).toHaveLength(3);
      for (const [i, header] of seen.entries())
        expect(header).toBe(`00-${server?.traceId}-${clients[i]?.spanId}-01`);
    } finally {
      await front.close();
      await downstream.close();
    }
  });

  it('continues an incoming traceparent and marks 5xx as an error', async () => {
    const server = await startHttpServer((_req, res) => {
      res.statusCode = 503;
      res.end();
    });
    try {
      const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
      await fetch(server.url, { headers: { traceparent: `00-${traceId}-00f067aa0ba902b7-01` } });
      await settle(() => tracing.spans({ kind: 'server' }).length === 1);
      const span = one(tracing.spans({ kind: 'server' }));
      expect(span.traceId).not.toBe(traceId); // fetch's own client span started a trace and replaced the header
      expect(span.status.code).toBe('error');
    } finally {
      await server.close();
    }
  });

  it('records a failed client request as an error span', async () => {
    const closed = await startHttpServer((_req, res) => res.end());
    await closed.close(); // nothing listens on its port any more
    await expect(fetch(`${closed.url}/nothing-listens`)).rejects.toThrow();
    await expect(
      new Promise((resolve, reject) => http.get(`${closed.url}/`, resolve).on('error', reject)),
    ).rejects.toThrow();
    const failed = tracing.spans({ kind: 'client' });
    expect(failed).toHaveLength(2);
    for (const span of failed) expect(span.status.code).toBe('error');
  });
});

describe('when client and server spans end', () => {
  it('a client span ends when the response body has arrived, not at the headers', async () => {
    const server = await startHttpServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('first ');
      setTimeout(() => res.end('last'), 120);
    });
    try {
      expect(await fetch(`${server.url}/fetch`).then((r) => r.text())).toBe('first last');
      expect(await undiciRequest(`${server.url}/undici`).then((r) => r.body.text())).toBe(
        'first last',
      );
      const body = await new Promise<string>((resolve) =>
        http.get(`${server.url}/http`, (r) => {
          let text = '';
          r.setEncoding('utf8');
          r.on('data', (chunk: string) => {
            text += chunk;
          });
          r.on('end', () => resolve(text));
        }),
      );
      expect(body).toBe('first last');
      await settle(() => tracing.spans({ kind: 'client' }).length === 3);
      const clients = tracing.spans({ kind: 'client' });
      expect(clients.map((c) => c.attributes['url.full'])).toEqual([
        `${server.url}/fetch`,
        `${server.url}/undici`,
        `${server.url}/http`,
      ]);
      for (const client of clients) {
        expect(client.attributes['http.response.status_code']).toBe(200);
        expect(client.status.code).toBe('unset');
        expect(client.durationMs).toBeGreaterThanOrEqual(100); // the body's last chunk came 120 ms after the headers
      }
    } finally {
      await server.close();
    }
  });

  it('a client span whose response body is cut short ends as an error', async () => {
    const server = await startHttpServer((_req, res) => {
      res.writeHead(200, { 'content-length': '100' });
      res.write('only part of it');
      setTimeout(() => res.destroy(), 20);
    });
    try {
      await expect(fetch(`${server.url}/fetch`).then((r) => r.text())).rejects.toThrow();
      await expect(
        undiciRequest(`${server.url}/undici`).then((r) => r.body.text()),
      ).rejects.toThrow();
      await new Promise<void>((resolve) =>
        http.get(`${server.url}/http`, (r) => {
          r.on('error', () => {});
          r.resume();
          r.on('close', () => resolve());
        }),
      );
      await settle(() => tracing.spans({ kind: 'client' }).length === 3);
      const clients = tracing.spans({ kind: 'client' });
      expect(clients).toHaveLength(3);
      for (const client of clients) {
        expect(client.attributes['http.response.status_code']).toBe(200);
        expect(client.status.code).toBe('error');
        expect(client.attributes['error.type']).toEqual(expect.any(String));
      }
    } finally {
      await server.close();
    }
  });

  it('a 4xx answer marks the client span as an error with error.type', async () => {
    const server = await startHttpServer((_req, res) => {
      res.statusCode = 404;
      res.end('no');
    });
    try {
      await fetch(server.url).then((r) => r.text());
      await settle(() => tracing.spans({ kind: 'client' }).length === 1);
      const client = one(tracing.spans({ kind: 'client' }));
      expect(client.status.code).toBe('error');
      expect(client.attributes).toMatchObject({
        'http.response.status_code': 404,
        'error.type': '404',
      });
    } finally {
      await server.close();
    }
  });

  it('a client that disconnects before the response still gets its server span, as an error', async () => {
    let arrived!: () => void;
    const requestArrived = new Promise<void>((resolve) => {
      arrived = resolve;
    });
    const app = express();
    app.get('/slow/:id', (_req, res) => {
      arrived();
      setTimeout(() => {
        if (!res.destroyed) res.send('too late');
      }, 300);
    });
    const server = await startHttpServer(http.createServer(app));
    try {
      const request = http.get(`${server.url}/slow/1`);
      request.on('error', () => {}); // the abort below
      await requestArrived;
      request.destroy();
      await settle(() => tracing.spans({ kind: 'server' }).length === 1);
      const span = one(tracing.spans({ kind: 'server' }));
      expect(span.status).toEqual({
        code: 'error',
        message: 'the client closed the connection before the response was sent',
      });
      expect(span.attributes['error.type']).toBe('ECONNRESET');
      expect(span.attributes['http.response.status_code']).toBeUndefined();
      expect(span.name).toBe('GET /slow/:id');
      expect(span.attributes['http.route']).toBe('/slow/:id');
      await new Promise((resolve) => setTimeout(resolve, 350)); // the handler's late write: no second span
      expect(tracing.spans({ kind: 'server' })).toHaveLength(1);
    } finally {
      await server.close();
    }
  });
});

describe('frameworks: one server span per request, with the route', () => {
  it('Express: http.route and the span name from the matched route', async () => {
    const app = express();
    const users = express.Router();
    users.get('/:id', (req, res) => {
      res.send(`user ${req.params.id}`);
    });
    app.use('/users', users);
    const server = await startHttpServer(http.createServer(app));
    try {
      await fetch(`${server.url}/users/42`).then((r) => r.text());
      await settle(() => tracing.spans({ kind: 'server' }).length === 1);
      const span = one(tracing.spans({ kind: 'server' }));
      expect(span.name).toBe('GET /users/:id');
      expect(span.attributes['http.route']).toBe('/users/:id');
      expect(tracing.spans()).toHaveLength(2); // the fetch client span and the server span, nothing per middleware
    } finally {
      await server.close();
    }
  });

  it('Fastify: the route from its diagnostics channel', async () => {
    const app = Fastify();
    app.get('/items/:sku', async () => ({ ok: true }));
    await app.listen({ port: 0, host: '127.0.0.1' });
    try {
      const { port } = app.server.address() as { port: number };
      await fetch(`http://127.0.0.1:${port}/items/abc`).then((r) => r.text());
      await settle(() => tracing.spans({ kind: 'server' }).length === 1);
      const span = one(tracing.spans({ kind: 'server' }));
      expect(span.name).toBe('GET /items/:sku');
      expect(span.attributes['http.route']).toBe('/items/:sku');
    } finally {
      await app.close();
    }
  });

  it('Koa (required after start): one server span, a router route when one matched', async () => {
    const Koa = require('koa') as typeof import('koa');
    const app = new Koa();
    app.use(async (ctx) => {
      (ctx as unknown as { _matchedRoute: string })._matchedRoute = '/orders/:id';
      ctx.body = 'koa';
    });
    const server = await startHttpServer(http.createServer(app.callback()));
    try {
      await fetch(`${server.url}/orders/7`).then((r) => r.text());
      await settle(() => tracing.spans({ kind: 'server' }).length === 1);
      const span = one(tracing.spans({ kind: 'server' }));
      expect(span.attributes['http.route']).toBe('/orders/:id');
    } finally {
      await server.close();
    }
  });
});

describe('ioredis', () => {
  it('one client span per command, a child of the active span', async () => {
    const redis = new Redis(vitestInject('redisUrl'), { lazyConnect: true });
    await redis.connect();
    tracing.reset(); // connecting sent HELLO/INFO: spans of their own
    try {
      const key = `tracing:test:${Math.random().toString(36).slice(2)}`;
      await withSpan('redis-work', async () => {
        await redis.set(key, 'v', 'EX', 10);
        await redis.get(key);
      });
      const root = tracing.tree().find((node) => node.name === 'redis-work');
      expect(root?.children.map((c) => c.name)).toEqual(['set', 'get']);
      expect(root?.children[1]?.attributes).toMatchObject({
        'db.system.name': 'redis',
        'db.operation.name': 'GET',
        'db.query.text': `get ${key}`,
      });
      expect(root?.children[0]?.attributes['db.query.text']).toBe(`set ${key} ? ? ?`);
    } finally {
      redis.disconnect();
    }
  });
});

describe('pino (required after start)', () => {
  it('adds trace_id, span_id and trace_flags to every line, after the app mixin', () => {
    const pino = require('pino') as typeof import('pino').default;
    const lines: Record<string, unknown>[] = [];
    const stream = { write: (line: string) => lines.push(JSON.parse(line)) };
    const logger = pino({ mixin: () => ({ app: 'x' }) }, stream);
    const plain = pino(stream);
    const ids = withSpan('logging', (span) => {
      logger.info('inside');
      plain.info('plain');
      return span.spanContext();
    });
    logger.info('outside');
    expect(lines[0]).toMatchObject({
      app: 'x',
      trace_id: ids.traceId,
      span_id: ids.spanId,
      trace_flags: '01',
    });
    expect(lines[1]).toMatchObject({ trace_id: ids.traceId });
    expect(lines[2]?.trace_id).toBeUndefined();
    expect(lines[2]?.app).toBe('x');
  });
});
