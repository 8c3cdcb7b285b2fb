import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { circuitBreaker } from '@ballast/breaker';
import { freePort, rawRequest, type TestHttpServer } from '@ballast/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { staticRegistry } from '../src/index.ts';
import { createRouter, type Router } from '../src/router/index.ts';
import { gateways, startUpstream, type Upstream } from './support/proxy-apps.ts';

// The same behaviour suite on every adapter, each against real local upstreams.

let upstream: Upstream;
let downPort: number;
const breaker = circuitBreaker({ name: 'open-route' });

beforeAll(async () => {
  upstream = await startUpstream();
  downPort = await freePort();
  breaker.transitionTo('OPEN');
});
afterAll(async () => {
  await upstream.close();
});

function makeRouter(options: { trustProxy?: boolean } = {}): Router {
  const registry = staticRegistry([
    { id: 'o1', service: 'orders', address: '127.0.0.1', port: upstream.port },
    { id: 'd1', service: 'down', address: '127.0.0.1', port: downPort },
  ]);
  return createRouter(
    [
      { match: { pathPrefix: '/api/orders' }, to: 'http://orders', rewrite: { stripPrefix: true } },
      {
        match: { pathPrefix: '/api/v2', methods: ['GET'], headers: { 'x-tenant': /^t\d$/ } },
        to: 'http://orders/base',
        rewrite: { stripPrefix: true, addPrefix: '/echo' },
      },
      { match: { pathPrefix: '/down' }, to: 'http://down' },
      { match: { pathPrefix: '/missing' }, to: 'http://missing' },
      {
        match: { pathPrefix: '/limited' },
        to: 'http://orders',
        policies: { rateLimit: { ratePerSecond: 0.01, burst: 1 } },
      },
      {
        match: { pathPrefix: '/timeout' },
        to: 'http://orders/hang',
        rewrite: { stripPrefix: true },
        policies: { timeoutMs: 150 },
      },
      { match: { pathPrefix: '/open' }, to: 'http://orders', policies: { breaker } },
      {
        match: { pathPrefix: '/retry' },
        to: 'http://orders',
        rewrite: { stripPrefix: true },
        policies: { retry: { maxAttempts: 3, initialDelayMs: 1, budget: false } },
      },
      {
        match: { pathPrefix: '/small' },
        to: 'http://orders',
        rewrite: { stripPrefix: true },
        maxRequestBodyBytes: 10,
        maxResponseBodyBytes: 100,
      },
      {
        match: { pathPrefix: '/rewrite' },
        to: 'http://orders',
        rewrite: { stripPrefix: true },
        preserveHost: true,
        headers: {
          request: { set: { 'X-Gateway': 'ballast' }, remove: ['x-secret'] },
          response: { set: { 'x-served-by': 'gateway' }, remove: ['X-Upstream'] },
        },
      },
    ],
    { registry, discovery: { ejection: false }, ...options },
  );
}

const json = (body: Buffer) => JSON.parse(body.toString('utf8')) as Record<string, unknown>;
const lastSeen = (path: string) => upstream.seen.findLast((s) => s.url.startsWith(path))!;

describe.each(Object.entries(gateways))('proxy() on %s', (name, start) => {
  const tag = name.replace(/\W/g, '');
  let gateway: TestHttpServer;
  let router: Router;
  beforeAll(async () => {
    router = makeRouter();
    gateway = await start(router);
  });
  afterAll(async () => {
    await gateway.close();
    await router.close();
  });

  it('forwards a GET with the prefix stripped and the query kept', async () => {
    const res = await rawRequest(`${gateway.url}/api/orders/echo/7?x=1&y=2`);
    expect(res.status).toBe(200);
    expect(res.json()).toMatchObject({ method: 'GET', url: '/echo/7?x=1&y=2' });
    expect(res.headers['x-upstream']).toBe('up');
  });

  it('leaves requests no route takes to the framework', async () => {
    expect((await rawRequest(`${gateway.url}/local`)).json()).toEqual({ local: true });
    const other = await rawRequest(`${gateway.url}/api/ordersx`);
    expect(other.status).toBe(404);
  });

  it('matches methods and headers, and prepends the base path and addPrefix', async () => {
    const ok = await rawRequest(`${gateway.url}/api/v2/items?q=1`, {
      headers: { 'x-tenant': 't1' },
    });
    expect(ok.status).toBe(200);
    expect(ok.json()).toMatchObject({ url: '/base/echo/items?q=1' });
    expect((await rawRequest(`${gateway.url}/api/v2/items`)).status).toBe(404);
    const post = await rawRequest(`${gateway.url}/api/v2/items`, {
      method: 'POST',
      headers: { 'x-tenant': 't1' },
    });
    expect(post.status).toBe(404);
  });

  it('removes hop-by-hop request headers, including those Connection names', async () => {
    const res = await rawRequest(`${gateway.url}/api/orders/echo`, {
      headers: {
        connection: 'keep-alive, x-hop',
        'x-hop': 'private',
        'keep-alive': 'timeout=5',
        te: 'trailers',
        'proxy-authorization': 'Basic abc',
        'x-end-to-end': 'kept',
      },
    });
    const headers = res.json().headers as Record<string, string>;
    for (const name of ['connection', 'x-hop', 'keep-alive', 'te', 'proxy-authorization']) {
      // undici adds its own `connection: keep-alive`; the client's tokens are gone
      if (name === 'connection') expect(headers[name] ?? 'keep-alive').toBe('keep-alive');
      else expect(headers[name]).toBeUndefined();
    }
    expect(headers['x-end-to-end']).toBe('kept');
    expect(headers.host).toBe(`127.0.0.1:${upstream.port}`);
  });

  it('removes hop-by-hop response headers', async () => {
    const res = await rawRequest(`${gateway.url}/api/orders/hop`);
    expect(res.text()).toBe('hop');
    expect(res.headers['x-private']).toBeUndefined();
    expect(res.headers['proxy-authenticate']).toBeUndefined();
    expect(res.headers['keep-alive']).toBeUndefined();
    expect(res.headers['x-public']).toBe('yes');
  });

  it('sets X-Forwarded-For|Proto|Host and Forwarded, replacing what an untrusted client sent', async () => {
    const res = await rawRequest(`${gateway.url}/api/orders/echo`, {
      headers: {
        'x-forwarded-for': '6.6.6.6',
        'x-forwarded-host': 'evil.example',
        'x-forwarded-proto': 'https',
        forwarded: 'for=6.6.6.6',
      },
    });
    const headers = res.json().headers as Record<string, string>;
    const host = `127.0.0.1:${gateway.port}`;
    expect(headers['x-forwarded-for']).toBe('127.0.0.1');
    expect(headers['x-forwarded-proto']).toBe('http');
    expect(headers['x-forwarded-host']).toBe(host);
    expect(headers.forwarded).toBe(`for=127.0.0.1;proto=http;host="${host}"`);
  });

  it('applies per-route header rewriting both ways and can keep the client Host', async () => {
    const res = await rawRequest(`${gateway.url}/rewrite/echo`, {
      headers: { 'x-secret': 's', 'x-gateway': 'client' },
    });
    const headers = res.json().headers as Record<string, string>;
    expect(headers['x-gateway']).toBe('ballast');
    expect(headers['x-secret']).toBeUndefined();
    expect(headers.host).toBe(`127.0.0.1:${gateway.port}`);
    expect(res.headers['x-served-by']).toBe('gateway');
    expect(res.headers['x-upstream']).toBeUndefined();
  });

  it('streams request bodies, with a Content-Length and chunked', async () => {
    const body = Buffer.alloc(300_000, 1);
    const sized = await rawRequest(`${gateway.url}/api/orders/upload`, { method: 'POST', body });
    expect(sized.json()).toEqual({ received: 300_000 });
    const chunked = await new Promise<Record<string, unknown>>((resolve, reject) => {
      const req = httpRequest(
        `${gateway.url}/api/orders/upload`,
        { method: 'PUT', headers: { 'content-type': 'application/octet-stream' }, agent: false },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve(json(Buffer.concat(chunks))));
        },
      );
      req.on('error', reject);
      req.write(Buffer.alloc(1000));
      setTimeout(() => req.end(Buffer.alloc(500)), 20);
    });
    expect(chunked).toEqual({ received: 1500 });
  });

  it('answers Expect: 100-continue and forwards the body', async () => {
    const result = await new Promise<{ continued: boolean; body: Record<string, unknown> }>(
      (resolve, reject) => {
        let continued = false;
        const req = httpRequest(`${gateway.url}/api/orders/upload`, {
          method: 'POST',
          headers: { expect: '100-continue', 'content-length': 4 },
          agent: false,
        });
        req.on('continue', () => {
          continued = true;
          req.end('data');
        });
        req.on('response', (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ continued, body: json(Buffer.concat(chunks)) }));
        });
        req.on('error', reject);
      },
    );
    expect(result).toEqual({ continued: true, body: { received: 4 } });
  });

  it('refuses a protocol upgrade with 501 UPGRADE_NOT_SUPPORTED', async () => {
    const res = await rawRequest(`${gateway.url}/api/orders/echo`, {
      headers: { connection: 'Upgrade', upgrade: 'websocket' },
    });
    expect(res.status).toBe(501);
    expect(res.json()).toMatchObject({ code: 'UPGRADE_NOT_SUPPORTED' });
  });

  it('never forwards dot segments (400 BAD_REQUEST_PATH, or resolved by the server first)', async () => {
    const before = upstream.seen.length;
    for (const path of ['/api/orders/a/../b', '/api/orders/%2e%2E/admin', '/api/orders/./x']) {
      const res = await sendRaw(gateway.port, `GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`);
      // fetch servers hand over a URL the WHATWG parser already resolved
      expect(res).toMatch(/^HTTP\/1\.1 (400|404|200)/);
      if (res.startsWith('HTTP/1.1 400')) expect(res).toContain('BAD_REQUEST_PATH');
    }
    for (const seen of upstream.seen.slice(before)) expect(seen.url).not.toMatch(/\/(\.|%2e)/i);
  });

  it('upstream unreachable: 502 UPSTREAM_UNREACHABLE, no internal address', async () => {
    const res = await rawRequest(`${gateway.url}/down/x`);
    expect(res.status).toBe(502);
    expect(res.headers['content-type']).toBe('application/problem+json');
    expect(res.json()).toMatchObject({ status: 502, code: 'UPSTREAM_UNREACHABLE' });
    expect(res.text()).not.toContain('127.0.0.1');
    expect(res.text()).not.toContain(String(downPort));
  });

  it('no instance: 503 NO_INSTANCE with Retry-After', async () => {
    const res = await rawRequest(`${gateway.url}/missing/x`);
    expect(res.status).toBe(503);
    expect(res.json()).toMatchObject({ code: 'NO_INSTANCE' });
    expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
  });

  it('timeout: 504 UPSTREAM_TIMEOUT', async () => {
    const res = await rawRequest(`${gateway.url}/timeout`);
    expect(res.status).toBe(504);
    expect(res.json()).toMatchObject({ code: 'UPSTREAM_TIMEOUT' });
  });

  it('breaker open: 503 BREAKER_OPEN with Retry-After, upstream not called', async () => {
    const before = upstream.seen.length;
    const res = await rawRequest(`${gateway.url}/open/echo`);
    expect(res.status).toBe(503);
    expect(res.json()).toMatchObject({ code: 'BREAKER_OPEN' });
    expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
    expect(upstream.seen.length).toBe(before);
  });

  it('rate limited: 429 RATE_LIMITED with Retry-After', async () => {
    await rawRequest(`${gateway.url}/limited/echo`);
    const res = await rawRequest(`${gateway.url}/limited/echo`);
    expect(res.status).toBe(429);
    expect(res.json()).toMatchObject({ code: 'RATE_LIMITED' });
    expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
  });

  it('retries idempotent requests only', async () => {
    const count = (method: string) =>
      upstream.seen.filter((s) => s.url === `/status/500?m=${method}${tag}`).length;
    for (const method of ['GET', 'POST', 'DELETE', 'PATCH']) {
      const res = await rawRequest(`${gateway.url}/retry/status/500?m=${method}${tag}`, { method });
      expect(res.status).toBe(500);
    }
    expect(count('GET')).toBe(3);
    expect(count('DELETE')).toBe(3);
    expect(count('POST')).toBe(1);
    expect(count('PATCH')).toBe(1);
    const keyed = await rawRequest(`${gateway.url}/retry/status/500?m=keyed${tag}`, {
      method: 'POST',
      headers: { 'idempotency-key': 'k1' },
    });
    expect(keyed.status).toBe(500);
    expect(count('keyed')).toBe(3);
  });

  it('size limits: 413 for a large Content-Length or chunked body, 502 for a large response', async () => {
    const sized = await rawRequest(`${gateway.url}/small/upload`, {
      method: 'POST',
      body: 'x'.repeat(11),
    });
    expect(sized.status).toBe(413);
    expect(sized.json()).toMatchObject({ code: 'REQUEST_TOO_LARGE' });
    const chunked = await sendRaw(
      gateway.port,
      'POST /small/upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n8\r\n12345678\r\n8\r\n12345678\r\n0\r\n\r\n',
    );
    expect(chunked).toMatch(/^HTTP\/1\.1 413/);
    const big = await rawRequest(`${gateway.url}/small/bytes/101`);
    expect(big.status).toBe(502);
    expect(big.json()).toMatchObject({ code: 'RESPONSE_TOO_LARGE' });
    await expect(rawRequest(`${gateway.url}/small/chunked/1000`)).rejects.toThrow();
    expect((await rawRequest(`${gateway.url}/small/bytes/100`)).body.length).toBe(100);
  });

  it('an upstream dying mid-body ends the client response (truncated, no hang)', async () => {
    await expect(rawRequest(`${gateway.url}/api/orders/die`)).rejects.toThrow(
      /aborted|socket|reset/i,
    );
  });

  it('a client disconnect aborts the upstream request', async () => {
    const req = httpRequest(`${gateway.url}/api/orders/hang?client=${tag}`, { agent: false });
    req.on('error', () => {});
    req.end();
    await waitFor(() => upstream.seen.some((s) => s.url === `/hang?client=${tag}`));
    req.destroy();
    await upstream.abortedOn(`/hang?client=${tag}`);
  });
});

describe('trustProxy', () => {
  it('keeps and extends a trusted peer’s forwarding headers', async () => {
    const router = makeRouter({ trustProxy: true });
    const gateway = await gateways['node-http']!(router);
    try {
      const res = await rawRequest(`${gateway.url}/api/orders/echo`, {
        headers: {
          host: 'shop.example',
          'x-forwarded-for': '203.0.113.7',
          'x-forwarded-proto': 'https',
          'x-forwarded-host': 'www.shop.example',
          forwarded: 'for=203.0.113.7;proto=https',
        },
      });
      const headers = res.json().headers as Record<string, string>;
      expect(headers['x-forwarded-for']).toBe('203.0.113.7, 127.0.0.1');
      expect(headers['x-forwarded-proto']).toBe('https');
      expect(headers['x-forwarded-host']).toBe('www.shop.example');
      expect(headers.forwarded).toBe(
        'for=203.0.113.7;proto=https, for=127.0.0.1;proto=http;host="shop.example"',
      );
    } finally {
      await gateway.close();
      await router.close();
    }
  });
});

async function waitFor(test: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !test(); i++) await new Promise((r) => setTimeout(r, 10));
  expect(test()).toBe(true);
}

/** Sends raw bytes on a fresh connection; resolves with what came back until the server closed or 300 ms of quiet. */
function sendRaw(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let out = '';
    let timer: NodeJS.Timeout | undefined;
    const done = () => {
      socket.destroy();
      resolve(out);
    };
    socket.on('data', (chunk) => {
      out += chunk.toString('latin1');
      clearTimeout(timer);
      timer = setTimeout(done, 300);
    });
    socket.on('end', done);
    socket.on('error', (error) => (out ? done() : reject(error)));
    socket.write(text);
  });
}
