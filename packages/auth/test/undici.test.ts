import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer } from 'node:http';
import { ManualClock, startHttpServer, type TestHttpServer } from '@ballast/test-utils';
import express from 'express';
import { Agent, fetch, request } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { authOf, requireAuth } from '../src/adapters/express.ts';
import { clientCredentials } from '../src/client-credentials.ts';
import { isAuthError } from '../src/errors.ts';
import { createTestIssuer } from '../src/testing/index.ts';
import type { TokenSource } from '../src/token-source.ts';
import { bearerInterceptor } from '../src/undici.ts';
import { createVerifier } from '../src/verifier.ts';

/** A token source that hands out `<prefix>-1`, `<prefix>-2`, … and counts invalidations. */
function countingSource(prefix: string) {
  let version = 1;
  const source = {
    fetched: 0,
    invalidated: [] as (string | undefined)[],
    fail: undefined as Error | undefined,
    async getToken() {
      if (source.fail) throw source.fail;
      source.fetched++;
      return `${prefix}-${version}`;
    },
    invalidate(token?: string) {
      source.invalidated.push(token);
      if (token === undefined || token === `${prefix}-${version}`) version++;
    },
  } satisfies TokenSource & Record<string, unknown>;
  return source;
}

interface Seen {
  method: string;
  authorization: string | undefined;
  body: string;
  custom: string | undefined;
}

/** A resource server that accepts only `acceptToken`, and records what it saw. */
async function resourceServer(
  acceptToken: () => string,
  challenge = 'Bearer error="invalid_token"',
) {
  const seen: Seen[] = [];
  const server = await startHttpServer(async (req: IncomingMessage, res: ServerResponse) => {
    let body = '';
    for await (const chunk of req) body += chunk;
    seen.push({
      method: req.method ?? '',
      authorization: req.headers.authorization,
      body,
      custom: req.headers['x-custom'] as string | undefined,
    });
    if (req.headers.authorization !== `Bearer ${acceptToken()}`) {
      res.writeHead(401, { 'www-authenticate': challenge, 'content-type': 'text/plain' });
      res.end('a 401 body that must not reach the caller');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ ok: true, method: req.method, body }));
  });
  return { server, seen };
}

describe('bearerInterceptor', () => {
  let a: Awaited<ReturnType<typeof resourceServer>>;
  let b: Awaited<ReturnType<typeof resourceServer>>;
  let plain: TestHttpServer;
  let plainSeen: (string | undefined)[];
  let accepted: { a: string; b: string };
  const agents: Agent[] = [];

  beforeAll(async () => {
    accepted = { a: 'a-1', b: 'b-1' };
    a = await resourceServer(() => accepted.a);
    b = await resourceServer(() => accepted.b);
    plainSeen = [];
    plain = await startHttpServer((req, res) => {
      plainSeen.push(req.headers.authorization);
      res.end('plain');
    });
  });
  afterEach(async () => {
    a.seen.length = 0;
    b.seen.length = 0;
    plainSeen.length = 0;
    accepted = { a: 'a-1', b: 'b-1' };
    await Promise.all(agents.splice(0).map((agent) => agent.close()));
  });
  afterAll(async () => {
    await Promise.all([a.server.close(), b.server.close(), plain.close()]);
  });

  function agentWith(tokens: Parameters<typeof bearerInterceptor>[0]['tokens']) {
    const agent = new Agent();
    agents.push(agent);
    return agent.compose(bearerInterceptor({ tokens }));
  }

  it('adds the token of each origin, and nothing for other origins (request and fetch)', async () => {
    const sa = countingSource('a');
    const sb = countingSource('b');
    const dispatcher = agentWith({ [`${a.server.url}/ignored/path`]: sa, [b.server.url]: sb });

    const ra = await request(`${a.server.url}/items`, { dispatcher });
    expect(ra.statusCode).toBe(200);
    await ra.body.json();
    const rb = await fetch(`${b.server.url}/items`, { dispatcher });
    expect(rb.status).toBe(200);
    await rb.text();
    const rp = await request(plain.url, { dispatcher });
    await rp.body.text();

    expect(a.seen.map((s) => s.authorization)).toEqual(['Bearer a-1']);
    expect(b.seen.map((s) => s.authorization)).toEqual(['Bearer b-1']);
    expect(plainSeen).toEqual([undefined]);
  });

  it('keeps other headers in every shape undici accepts, and leaves an explicit Authorization alone', async () => {
    const dispatcher = agentWith({ [a.server.url]: countingSource('a') });
    for (const headers of [
      { 'x-custom': 'object' },
      ['x-custom', 'flat'],
      new Map([['x-custom', 'iterable']]),
    ] as never[]) {
      const res = await request(a.server.url, { dispatcher, headers });
      await res.body.text();
    }
    const own = await request(a.server.url, {
      dispatcher,
      headers: { Authorization: 'Bearer mine' },
    });
    expect(own.statusCode).toBe(401);
    await own.body.text();
    expect(a.seen.map((s) => [s.custom, s.authorization])).toEqual([
      ['object', 'Bearer a-1'],
      ['flat', 'Bearer a-1'],
      ['iterable', 'Bearer a-1'],
      [undefined, 'Bearer mine'],
    ]);
  });

  it.each(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE'] as const)(
    'on 401 invalid_token refreshes once and resends a %s once',
    async (method) => {
      const source = countingSource('a');
      const dispatcher = agentWith({ [a.server.url]: source });
      accepted.a = 'a-2';
      const res = await request(`${a.server.url}/x`, {
        dispatcher,
        method,
        body: method === 'PUT' ? 'replayed body' : undefined,
      });
      expect(res.statusCode).toBe(200);
      const text = await res.body.text();
      if (method !== 'HEAD') expect(JSON.parse(text)).toMatchObject({ ok: true, method });
      expect(a.seen.map((s) => s.authorization)).toEqual(['Bearer a-1', 'Bearer a-2']);
      if (method === 'PUT')
        expect(a.seen.map((s) => s.body)).toEqual(['replayed body', 'replayed body']);
      expect(source.invalidated).toEqual(['a-1']);
      expect(source.fetched).toBe(2);
    },
  );

  it('with fetch too: the caller sees only the answer to the retry', async () => {
    const dispatcher = agentWith({ [a.server.url]: countingSource('a') });
    accepted.a = 'a-2';
    const res = await fetch(`${a.server.url}/x`, { dispatcher });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ ok: true });
    expect(a.seen).toHaveLength(2);
  });

  it('does not resend a POST: the caller gets the 401', async () => {
    const source = countingSource('a');
    const dispatcher = agentWith({ [a.server.url]: source });
    accepted.a = 'a-2';
    const res = await request(a.server.url, { dispatcher, method: 'POST', body: '{}' });
    expect(res.statusCode).toBe(401);
    expect(res.headers['www-authenticate']).toBe('Bearer error="invalid_token"');
    expect(await res.body.text()).toBe('a 401 body that must not reach the caller');
    expect(a.seen).toHaveLength(1);
    expect(source.invalidated).toEqual([]);
  });

  it('resends at most once: a second 401 reaches the caller', async () => {
    const source = countingSource('a');
    const dispatcher = agentWith({ [a.server.url]: source });
    accepted.a = 'never';
    const res = await request(a.server.url, { dispatcher });
    expect(res.statusCode).toBe(401);
    await res.body.text();
    expect(a.seen.map((s) => s.authorization)).toEqual(['Bearer a-1', 'Bearer a-2']);
    expect(source.invalidated).toEqual(['a-1']);
  });

  it('does not resend on a 401 without error="invalid_token", nor a streamed body', async () => {
    const other = await resourceServer(() => 'x', 'Bearer realm="api"');
    try {
      const source = countingSource('o');
      const dispatcher = agentWith({ [other.server.url]: source });
      const res = await request(other.server.url, { dispatcher });
      expect(res.statusCode).toBe(401);
      await res.body.text();
      expect(other.seen).toHaveLength(1);
    } finally {
      await other.server.close();
    }
    const { Readable } = await import('node:stream');
    const dispatcher = agentWith({ [a.server.url]: countingSource('a') });
    accepted.a = 'a-2';
    const res = await request(a.server.url, {
      dispatcher,
      method: 'PUT',
      body: Readable.from(['streamed']),
    });
    expect(res.statusCode).toBe(401);
    await res.body.text();
    expect(a.seen).toHaveLength(1);
  });

  it('can be turned off with retryOnInvalidToken: false', async () => {
    const agent = new Agent();
    agents.push(agent);
    const dispatcher = agent.compose(
      bearerInterceptor({
        tokens: { [a.server.url]: countingSource('a') },
        retryOnInvalidToken: false,
      }),
    );
    accepted.a = 'a-2';
    const res = await request(a.server.url, { dispatcher });
    expect(res.statusCode).toBe(401);
    await res.body.text();
    expect(a.seen).toHaveLength(1);
  });

  it('looks tokens up with a function of the origin', async () => {
    const source = countingSource('b');
    const origins: string[] = [];
    const dispatcher = agentWith((origin) => {
      origins.push(origin);
      return origin === b.server.url ? source : undefined;
    });
    await (await request(`${b.server.url}/p?q=1`, { dispatcher })).body.text();
    await (await request(plain.url, { dispatcher })).body.text();
    expect(origins).toEqual([b.server.url, plain.url]);
    expect(b.seen.map((s) => s.authorization)).toEqual(['Bearer b-1']);
    expect(plainSeen).toEqual([undefined]);
  });

  it('fails the request with the token source error, without sending it', async () => {
    const source = countingSource('a');
    source.fail = new Error('no token for you');
    const dispatcher = agentWith({ [a.server.url]: source });
    await expect(request(a.server.url, { dispatcher })).rejects.toThrow('no token for you');
    await expect(fetch(a.server.url, { dispatcher })).rejects.toThrow();
    expect(a.seen).toHaveLength(0);
  });

  it('honours an abort signal raised while the token is being fetched', async () => {
    let release: (token: string) => void = () => {};
    const slow: TokenSource = {
      getToken: () => new Promise<string>((resolve) => (release = resolve)),
      invalidate: () => {},
    };
    const dispatcher = agentWith({ [a.server.url]: slow });
    const controller = new AbortController();
    const pending = request(a.server.url, { dispatcher, signal: controller.signal });
    controller.abort(new Error('caller gave up'));
    release('a-1');
    await expect(pending).rejects.toThrow('caller gave up');
    expect(a.seen).toHaveLength(0);
  });

  it.each([
    [{ tokens: { 'not a url': countingSource('x') } }, 'tokens'],
    [{ tokens: { 'https://x.test': {} } }, 'tokens'],
    [{ tokens: 42 }, 'tokens'],
    [{ tokens: {}, retryOnInvalidToken: 'yes' }, 'retryOnInvalidToken'],
  ])('refuses bad options %# with INVALID_OPTIONS naming %s', (options, name) => {
    let error: unknown;
    try {
      bearerInterceptor(options as never);
    } catch (e) {
      error = e;
    }
    expect(isAuthError(error, 'INVALID_OPTIONS')).toBe(true);
    expect((error as Error).message).toContain(`"${name}`);
  });
});

describe('clientCredentials + bearerInterceptor against a real issuer and an Express resource server', () => {
  it('sends the issued token; after the server sees it expire, refreshes once and resends a GET (not a POST)', async () => {
    // The issuer and the resource server share one clock; the client has its own, which lags,
    // so the client still believes in a token that the server already calls expired.
    const serverClock = new ManualClock(Date.now());
    await using issuer = await createTestIssuer({
      algorithms: ['ES256'],
      clock: serverClock,
      tokenTtlMs: 600_000,
      clients: [{ clientId: 'orders', clientSecret: 'orders-secret', scopes: ['stock:read'] }],
    });
    await using verifier = createVerifier({
      issuer: issuer.url,
      audience: issuer.audience,
      jwksUri: issuer.jwksUri,
      algorithms: ['ES256'],
      clock: serverClock,
    });
    const app = express();
    app.all('/stock', requireAuth(verifier, { scopes: ['stock:read'] }), (req, res) => {
      res.json({ client: authOf(req)?.subject });
    });
    const stock = await startHttpServer(createServer(app));
    await using tokens = clientCredentials({
      tokenEndpoint: issuer.tokenEndpoint,
      clientId: 'orders',
      clientSecret: 'orders-secret',
      scopes: ['stock:read'],
      clock: new ManualClock(Date.now()),
    });
    const agent = new Agent();
    const dispatcher = agent.compose(bearerInterceptor({ tokens: { [stock.url]: tokens } }));
    try {
      const first = await fetch(`${stock.url}/stock`, { dispatcher });
      expect([first.status, await first.json()]).toEqual([200, { client: 'orders' }]);
      expect(issuer.requests.token).toBe(1);

      serverClock.advance(700_000);
      const post = await request(`${stock.url}/stock`, { dispatcher, method: 'POST', body: '{}' });
      expect(post.statusCode).toBe(401);
      expect(post.headers['www-authenticate']).toMatch(/error="invalid_token"/);
      await post.body.text();
      expect(issuer.requests.token).toBe(1);

      const get = await fetch(`${stock.url}/stock`, { dispatcher });
      expect([get.status, await get.json()]).toEqual([200, { client: 'orders' }]);
      expect(issuer.requests.token).toBe(2);

      // Twenty concurrent GETs that all present the expired token: one refresh between them.
      serverClock.advance(700_000);
      const many = await Promise.all(
        Array.from({ length: 20 }, async () => {
          const res = await request(`${stock.url}/stock`, { dispatcher });
          await res.body.text();
          return res.statusCode;
        }),
      );
      expect(many).toEqual(Array(20).fill(200));
      expect(issuer.requests.token).toBe(3);
    } finally {
      await agent.close();
      await stock.close();
    }
  });
});
