import { randomBytes, randomUUID } from 'node:crypto';
import type { TestHttpServer } from '@ballast/test-utils';
import type { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type IdempotencyEvent, redisStore } from '../src/index.ts';
import { type AppOptions, apps, type Handle, type Reply } from './support/apps.ts';
import { post, send } from './support/http.ts';
import { gate, testRedis } from './support/redis.ts';

// One behaviour suite, run against every adapter with its real framework, on the real Redis.
describe.each(Object.keys(apps))('%s adapter', (name) => {
  let redis: { client: Redis; prefix: string };
  let server: TestHttpServer | undefined;
  let events: IdempotencyEvent[];
  let calls: Map<string, number>;

  beforeEach(() => {
    redis = testRedis();
    events = [];
    calls = new Map();
  });
  afterEach(async () => {
    await server?.close();
    server = undefined;
    redis.client.disconnect();
  });

  async function start(
    route: (path: string, n: number, key: string | undefined) => Promise<Reply> | Reply,
    options: Partial<AppOptions> = {},
  ) {
    const handle: Handle = async (path, key) => {
      const n = (calls.get(path) ?? 0) + 1;
      calls.set(path, n);
      return route(path, n, key);
    };
    const store = redisStore({ client: redis.client, prefix: redis.prefix });
    server = await apps[name]!({ store, onEvent: (e) => events.push(e), ...options }, handle);
    return server.url;
  }

  const created = (_path: string, n: number): Reply => ({
    status: 201,
    headers: {
      'content-type': 'application/json',
      location: `/payments/${n}`,
      'x-request-id': randomUUID(),
    },
    body: JSON.stringify({ id: `pay_${n}`, amount: 100 }),
  });

  /** A server whose handler holds its first call (or every call) open until `release.open()`. */
  async function startHeld(options: Partial<AppOptions> = {}, holdEveryCall = true) {
    const started = gate();
    const release = gate();
    const url = await start(async (path, n) => {
      if (holdEveryCall || n === 1) {
        started.open();
        await release.promise;
      }
      return created(path, n);
    }, options);
    return { url, started, release };
  }

  it('runs the handler once and replays status, stored headers and body byte for byte', async () => {
    const url = await start(created);
    const key = randomUUID();
    const first = await post(`${url}/payments`, key, { amount: 100 });
    const second = await post(`${url}/payments`, key, { amount: 100 });
    expect(first.status).toBe(201);
    expect(first.headers['idempotent-replayed']).toBeUndefined();
    expect(second.status).toBe(201);
    expect(second.headers['idempotent-replayed']).toBe('true');
    expect(second.body.equals(first.body)).toBe(true);
    expect(second.headers.location).toBe('/payments/1');
    expect(second.headers['content-type']).toBe(first.headers['content-type']);
    expect(second.headers['x-request-id']).toBeUndefined();
    expect(calls.get('/payments')).toBe(1);
    expect(events.map((e) => e.type)).toEqual(['executed', 'replayed']);
  });

  it('replays a UTF-8 text body byte for byte (stored as text)', async () => {
    const body = JSON.stringify({ note: 'Grüße — 支払い 💳', lines: 'a\nb' });
    const url = await start(() => ({
      status: 201,
      headers: { 'content-type': 'application/json; charset=utf-8' },
      body,
    }));
    const key = randomUUID();
    const first = await post(`${url}/payments`, key, { amount: 100 });
    const second = await post(`${url}/payments`, key, { amount: 100 });
    expect(first.body.equals(Buffer.from(body))).toBe(true);
    expect(second.body.equals(first.body)).toBe(true);
    expect(second.status).toBe(201);
    expect(second.headers['content-type']).toBe(first.headers['content-type']);
    expect(second.headers['idempotent-replayed']).toBe('true');
    expect(calls.get('/payments')).toBe(1);
  });

  it('replays a binary body byte for byte', async () => {
    const bytes = randomBytes(4096);
    const url = await start(() => ({
      status: 200,
      headers: { 'content-type': 'application/octet-stream' },
      body: bytes,
    }));
    const key = `"${randomUUID()}"`;
    const headers = { 'idempotency-key': key, 'content-type': 'application/octet-stream' };
    const first = await send(`${url}/files`, { headers, body: Buffer.from([1, 2, 3]) });
    const second = await send(`${url}/files`, { headers, body: Buffer.from([1, 2, 3]) });
    expect(first.body.equals(bytes)).toBe(true);
    expect(second.body.equals(bytes)).toBe(true);
    expect(second.headers['idempotent-replayed']).toBe('true');
    expect(calls.get('/files')).toBe(1);
  });

  it('answers 422 problem+json when the key is reused with a different body', async () => {
    const url = await start(created);
    const key = randomUUID();
    await post(`${url}/payments`, key, { amount: 100 });
    const reused = await post(`${url}/payments`, key, { amount: 999 });
    expect(reused.status).toBe(422);
    expect(reused.headers['content-type']).toBe('application/problem+json');
    expect(reused.json()).toMatchObject({
      status: 422,
      code: 'IDEMPOTENCY_KEY_REUSED',
      title: expect.any(String),
      type: expect.stringContaining('http'),
    });
    expect(calls.get('/payments')).toBe(1);
  });

  it('answers 400 when a covered request has no key, and passes uncovered methods', async () => {
    const url = await start(created);
    const missing = await post(`${url}/payments`, undefined, { amount: 100 });
    expect(missing.status).toBe(400);
    expect(missing.json()).toMatchObject({
      status: 400,
      code: 'IDEMPOTENCY_KEY_MISSING',
      detail: expect.stringContaining('Idempotency-Key'),
    });
    const get = await send(`${url}/payments`, { method: 'GET' });
    expect(get.status).toBe(201);
    expect(calls.get('/payments')).toBe(1);
  });

  it('passes a request without a key when keys are optional', async () => {
    const url = await start(created, { required: false });
    expect((await post(`${url}/payments`, undefined, {})).status).toBe(201);
  });

  it.each([
    ['too long', 'k'.repeat(256)],
    ['a control character', 'abc\tdef'],
    ['an integer', '12345'],
    ['a list', '"a", "b"'],
    ['a byte sequence', ':aGVsbG8=:'],
    ['a boolean', '?1'],
    ['an unclosed string', '"abc'],
    ['parameters', '"abc";x=1'],
    ['an empty string', '""'],
  ])('answers 400 to a key that is %s', async (_what, key) => {
    const url = await start(created);
    const got = await post(`${url}/payments`, key, {});
    expect(got.status).toBe(400);
    expect(got.json()).toMatchObject({ code: 'IDEMPOTENCY_KEY_INVALID', status: 400 });
    expect(calls.size).toBe(0);
  });

  it('answers 400 to many Idempotency-Key headers', async () => {
    const url = await start(created);
    const got = await send(`${url}/payments`, {
      headers: {
        'content-type': 'application/json',
        'idempotency-key': [randomUUID(), randomUUID(), randomUUID()],
      },
      body: '{}',
    });
    expect(got.status).toBe(400);
    expect(calls.size).toBe(0);
  });

  it('treats "key" and the bare key alike', async () => {
    const url = await start(created);
    const key = randomUUID();
    await post(`${url}/payments`, key, { a: 1 });
    const quoted = await post(`${url}/payments`, `"${key}"`, { a: 1 });
    expect(quoted.headers['idempotent-replayed']).toBe('true');
  });

  it('answers 409 with Retry-After while the first request runs, then replays', async () => {
    const { url, started, release } = await startHeld();
    const key = randomUUID();
    const first = post(`${url}/payments`, key, { amount: 1 });
    await started.promise;
    const duplicate = await post(`${url}/payments`, key, { amount: 1 });
    expect(duplicate.status).toBe(409);
    expect(duplicate.headers['retry-after']).toBe('1');
    expect(duplicate.json()).toMatchObject({ code: 'IDEMPOTENCY_KEY_IN_PROGRESS' });
    release.open();
    expect((await first).status).toBe(201);
    expect((await post(`${url}/payments`, key, { amount: 1 })).headers['idempotent-replayed']).toBe(
      'true',
    );
    expect(calls.get('/payments')).toBe(1);
  });

  it('waits for the first request and replays it when waitForInFlightMs is set', async () => {
    const { url, started, release } = await startHeld({
      waitForInFlightMs: 5_000,
      pollIntervalMs: 5,
    });
    const key = randomUUID();
    const first = post(`${url}/payments`, key, { amount: 1 });
    await started.promise;
    const duplicate = post(`${url}/payments`, key, { amount: 1 });
    release.open();
    const [a, b] = await Promise.all([first, duplicate]);
    expect(b.status).toBe(201);
    expect(b.body.equals(a.body)).toBe(true);
    expect(b.headers['idempotent-replayed']).toBe('true');
    expect(calls.get('/payments')).toBe(1);
  });

  it('releases the key when the handler throws, so the retry runs', async () => {
    const url = await start((path, n) => {
      if (n === 1) throw new Error('card network down');
      return created(path, n);
    });
    const key = randomUUID();
    expect((await post(`${url}/payments`, key, {})).status).toBe(500);
    const retry = await post(`${url}/payments`, key, {});
    expect(retry.status).toBe(201);
    expect(retry.headers['idempotent-replayed']).toBeUndefined();
    expect(calls.get('/payments')).toBe(2);
    expect(events).toContainEqual(
      expect.objectContaining({ type: 'not-stored', reason: 'thrown' }),
    );
  });

  it('stores a 5xx the handler returned (like Stripe), or releases it when storeServerErrors is false', async () => {
    const reply = (): Reply => ({ status: 503, body: 'upstream down' });
    const url = await start(reply);
    const key = randomUUID();
    await post(`${url}/payments`, key, {});
    expect((await post(`${url}/payments`, key, {})).headers['idempotent-replayed']).toBe('true');
    await server!.close();
    calls.clear();
    const url2 = await start(reply, { storeServerErrors: false });
    const key2 = randomUUID();
    await post(`${url2}/payments`, key2, {});
    expect(
      (await post(`${url2}/payments`, key2, {})).headers['idempotent-replayed'],
    ).toBeUndefined();
    expect(calls.get('/payments')).toBe(2);
  });

  if (!name.startsWith('fastify')) {
    // Fastify parses bodies itself (its `bodyLimit` answers 413); the others read it in the adapter.
    it.each([
      ['with a content-length', {}],
      ['chunked', { 'transfer-encoding': 'chunked' }],
    ])(
      'answers 413 to a request body over maxRequestBodyBytes (%s) without claiming the key',
      async (_, extra) => {
        const url = await start(created, { maxRequestBodyBytes: 1024 });
        const key = randomUUID();
        const headers = { 'content-type': 'text/plain', 'idempotency-key': key, ...extra };
        const big = await send(`${url}/payments`, { headers, body: 'x'.repeat(1025) });
        expect(big.status).toBe(413);
        expect(big.headers['content-type']).toBe('application/problem+json');
        expect(big.json()).toMatchObject({ status: 413, code: 'REQUEST_TOO_LARGE' });
        expect(calls.get('/payments')).toBeUndefined();
        expect(events).toContainEqual(
          expect.objectContaining({ type: 'rejected', reason: 'body-too-large' }),
        );
        const fits = await send(`${url}/payments`, { headers, body: 'x'.repeat(1024) });
        expect(fits.status).toBe(201);
        expect(fits.headers['idempotent-replayed']).toBeUndefined();
        expect(calls.get('/payments')).toBe(1);
      },
    );
  }

  it('does not store a body over maxBodyBytes, releases the key and says why', async () => {
    const url = await start(() => ({ status: 200, body: Buffer.alloc(2048, 7) }), {
      maxBodyBytes: 1024,
    });
    const key = randomUUID();
    const first = await post(`${url}/export`, key, {});
    expect(first.body.length).toBe(2048);
    const second = await post(`${url}/export`, key, {});
    expect(second.headers['idempotent-replayed']).toBeUndefined();
    expect(calls.get('/export')).toBe(2);
    expect(events).toContainEqual(
      expect.objectContaining({ type: 'not-stored', reason: 'too-large' }),
    );
  });

  if (!name.startsWith('fetch')) {
    it('does not store a streamed response, releases the key and says why', async () => {
      const url = await start(() => ({ status: 200, body: 'streamed body', stream: true }));
      const key = randomUUID();
      expect((await post(`${url}/stream`, key, {})).body.toString()).toBe('streamed body');
      expect((await post(`${url}/stream`, key, {})).headers['idempotent-replayed']).toBeUndefined();
      expect(calls.get('/stream')).toBe(2);
      expect(events).toContainEqual(
        expect.objectContaining({ type: 'not-stored', reason: 'streamed' }),
      );
    });
  }

  it('keeps the key locked while an abandoned handler runs, then releases it unstored', async () => {
    const { url, started, release } = await startHeld({}, false);
    const key = randomUUID();
    const controller = new AbortController();
    const abandoned = fetch(`${url}/payments`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': key },
      body: '{"amount":1}',
      signal: controller.signal,
    }).catch((error: Error) => error);
    await started.promise;
    controller.abort();
    expect(await abandoned).toBeInstanceOf(Error);
    if (!name.startsWith('fetch')) {
      // Node adapters see the close while the handler runs; Hono only once it returns.
      await expect.poll(() => events.some((e) => e.type === 'abandoned')).toBe(true);
    }
    const during = await post(`${url}/payments`, key, { amount: 1 });
    expect(during.status).toBe(409);
    expect(calls.get('/payments')).toBe(1);
    release.open();
    await expect
      .poll(() => events.some((e) => e.type === 'not-stored' && e.reason === 'connection-lost'))
      .toBe(true);
    const retry = await post(`${url}/payments`, key, { amount: 1 });
    expect(retry.status).toBe(201);
    expect(retry.headers['idempotent-replayed']).toBeUndefined();
    expect(calls.get('/payments')).toBe(2);
    const replay = await post(`${url}/payments`, key, { amount: 1 });
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(calls.get('/payments')).toBe(2);
  });

  it('stops waiting when the waiting duplicate disconnects, and the first request still completes', async () => {
    const { url, started, release } = await startHeld({
      waitForInFlightMs: 10_000,
      pollIntervalMs: 5,
    });
    const key = randomUUID();
    const first = post(`${url}/payments`, key, { amount: 1 });
    await started.promise;
    const controller = new AbortController();
    const waiting = fetch(`${url}/payments`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': key },
      body: '{"amount":1}',
      signal: controller.signal,
    }).catch((error: Error) => error);
    controller.abort();
    expect(await waiting).toBeInstanceOf(Error);
    release.open();
    expect((await first).status).toBe(201);
    expect((await post(`${url}/payments`, key, { amount: 1 })).headers['idempotent-replayed']).toBe(
      'true',
    );
    expect(calls.get('/payments')).toBe(1);
  });

  it('isolates keys by scope: the same key from two users runs twice', async () => {
    const url = await start(created, { scopeByUser: true });
    const key = randomUUID();
    const alice = await post(`${url}/payments`, key, { amount: 1 }, { 'x-user': 'alice' });
    const bob = await post(`${url}/payments`, key, { amount: 1 }, { 'x-user': 'bob' });
    expect(bob.headers['idempotent-replayed']).toBeUndefined();
    expect(bob.body.equals(alice.body)).toBe(false);
    expect(
      (await post(`${url}/payments`, key, { amount: 1 }, { 'x-user': 'alice' })).body.equals(
        alice.body,
      ),
    ).toBe(true);
    expect(calls.get('/payments')).toBe(2);
  });

  it('refuses with 500 SCOPE_MISSING (and an event) when a configured scope returns nothing', async () => {
    const url = await start(created, { scopeByUser: true });
    const key = randomUUID();
    const alice = await post(`${url}/payments`, key, { amount: 1 }, { 'x-user': 'alice' });
    expect(alice.status).toBe(201);
    // No user: never the scope shared by every caller, so never Alice's stored response.
    const anonymous = await post(`${url}/payments`, key, { amount: 1 });
    expect(anonymous.status).toBe(500);
    expect(anonymous.headers['content-type']).toBe('application/problem+json');
    expect(anonymous.json()).toMatchObject({ status: 500, code: 'SCOPE_MISSING' });
    expect(anonymous.body.equals(alice.body)).toBe(false);
    expect(calls.get('/payments')).toBe(1);
    expect(events).toContainEqual({ type: 'rejected', key, reason: 'scope-missing' });
  });

  it('answers 500 when scope throws, without an unhandled rejection, and the key stays free', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const url = await start(created, {
        scope: (user) => {
          if (user === undefined) throw new Error('no session');
          return user;
        },
      });
      const key = randomUUID();
      expect((await post(`${url}/payments`, key, { amount: 1 })).status).toBe(500);
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(unhandled).toEqual([]);
      const retry = await post(`${url}/payments`, key, { amount: 1 }, { 'x-user': 'alice' });
      expect(retry.status).toBe(201);
      expect(calls.get('/payments')).toBe(1);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('gives the handler its parsed key (idempotencyKeyOf), without the structured-field quotes', async () => {
    const seen: (string | undefined)[] = [];
    const url = await start((path, n, key) => {
      seen.push(key);
      return created(path, n);
    });
    const key = randomUUID();
    await post(`${url}/payments`, `"${key}"`, { amount: 1 });
    await post(`${url}/other`, 'bare-key_1', { amount: 1 });
    expect(seen).toEqual([key, 'bare-key_1']);
  });
});
