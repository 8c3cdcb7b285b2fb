import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { startHttpServer, startRedisServer, type TestHttpServer } from '@ballast/test-utils';
import express from 'express';
import { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import { idempotency } from '../src/adapters/express.ts';
import {
  type IdempotencyEvent,
  isIdempotencyError,
  type RedisStore,
  redisStore,
} from '../src/index.ts';
import { COMPLETE_TEXT, completesText, type TextCompletingStore } from '../src/store.ts';
import { post } from './support/http.ts';
import { testRedis } from './support/redis.ts';

const servers: TestHttpServer[] = [];
let redis: { client: Redis; prefix: string };
beforeEach(() => {
  redis = testRedis();
});
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
  redis.client.disconnect();
});

/** An Express payments app over `store`; counts its handler runs in `runs`. */
async function paymentsApp(
  store: RedisStore,
  runs: { n: number },
  extra: Record<string, unknown> = {},
  onEvent?: (event: IdempotencyEvent) => void,
) {
  const app = express();
  app.use(express.json());
  const middleware = idempotency({ store, ...extra });
  if (onEvent) middleware.onEvent(onEvent);
  app.use(middleware);
  app.post('/payments', async (req, res) => {
    runs.n++;
    await new Promise((resolve) => setImmediate(resolve));
    res.status(201).json({ charged: req.body.amount, run: runs.n });
  });
  const server = await startHttpServer(app as never);
  servers.push(server);
  return server.url;
}

describe('RedisStore', () => {
  it('claims, completes and replays in one round trip each (counted with MONITOR)', async () => {
    const store = redisStore({ client: redis.client, prefix: redis.prefix });
    const monitor = await new Redis(inject('redisUrl')).monitor();
    const admin = new Redis(inject('redisUrl'));
    let sent = 0;
    let marker = '';
    let markerSeen = () => {};
    monitor.on('monitor', (_time: string, args: string[], source: string) => {
      if (args.includes(marker)) markerSeen();
      else if (!source.includes('lua') && args.some((a) => a.includes(redis.prefix))) sent++;
    });
    // Redis runs commands one at a time: once MONITOR shows a marker sent after a request, it has
    // shown every command of that request.
    const settle = async () => {
      marker = `marker-${randomUUID()}`;
      const seen = new Promise<void>((resolve) => {
        markerSeen = resolve;
      });
      await admin.echo(marker);
      await seen;
      const count = sent;
      sent = 0;
      return count;
    };
    const url = await paymentsApp(store, { n: 0 });
    const key = randomUUID();
    await post(`${url}/payments`, key, { amount: 1 });
    const first = await settle();
    await post(`${url}/payments`, key, { amount: 1 });
    const replay = await settle();
    monitor.disconnect();
    admin.disconnect();
    expect(first).toBe(2);
    expect(replay).toBe(1);
  });

  it('puts each record under a hash tag (Cluster safe)', async () => {
    const store = redisStore({ client: redis.client, prefix: redis.prefix });
    await store.claim({ key: 'abc', fingerprint: 'f', owner: 'o', lockTtlMs: 1000 });
    expect(await redis.client.keys(`${redis.prefix}*`)).toEqual([`${redis.prefix}{abc}`]);
  });

  it('fences a late completion from an owner whose lock expired', async () => {
    const store = redisStore({ client: redis.client, prefix: redis.prefix });
    await store.claim({ key: 'k', fingerprint: 'f', owner: 'old', lockTtlMs: 10_000 });
    await redis.client.del(`${redis.prefix}{k}`); // what expiry does
    expect(
      (await store.claim({ key: 'k', fingerprint: 'f', owner: 'new', lockTtlMs: 10_000 })).state,
    ).toBe('claimed');
    expect(
      await store.complete({
        key: 'k',
        owner: 'old',
        fingerprint: 'f',
        payload: Buffer.from('late'),
        retentionMs: 1000,
      }),
    ).toBe(false);
    expect(await store.extend({ key: 'k', owner: 'old', fingerprint: 'f', lockTtlMs: 1000 })).toBe(
      false,
    );
    expect(await store.release({ key: 'k', owner: 'old', fingerprint: 'f' })).toBe(false);
    expect(
      await store.complete({
        key: 'k',
        owner: 'new',
        fingerprint: 'f',
        payload: Buffer.from([0, 255, 1]),
        retentionMs: 1000,
      }),
    ).toBe(true);
    const replay = await store.claim({ key: 'k', fingerprint: 'f', owner: 'x', lockTtlMs: 1000 });
    expect(replay.state === 'completed' && [...replay.payload]).toEqual([0, 255, 1]);
    expect(await redis.client.pttl(`${redis.prefix}{k}`)).toBeGreaterThan(900);
  });

  it('completes with text exactly as with its UTF-8 bytes, fenced alike', async () => {
    const store = redisStore({ client: redis.client, prefix: redis.prefix });
    const text = '201[["content-type","application/json"]]\n{"note":"Grüße 💳"}';
    const lock = { fingerprint: 'f', owner: 'o', lockTtlMs: 10_000 };
    await store.claim({ key: 'bytes', ...lock });
    await store.claim({ key: 'text', ...lock });
    const done = { owner: 'o', fingerprint: 'f', retentionMs: 10_000 };
    expect(await store.complete({ key: 'bytes', ...done, payload: Buffer.from(text) })).toBe(true);
    const textStore = store as typeof store & TextCompletingStore;
    expect(completesText(store)).toBe(true);
    expect(await textStore[COMPLETE_TEXT]({ key: 'text', ...done, text })).toBe(true);
    const stored = await redis.client.getBuffer(`${redis.prefix}{text}`);
    expect(stored?.equals((await redis.client.getBuffer(`${redis.prefix}{bytes}`))!)).toBe(true);
    const replay = await store.claim({ key: 'text', ...lock, owner: 'x' });
    expect(replay.state === 'completed' && Buffer.from(replay.payload).toString()).toBe(text);
    // A late owner (its lock gone, another owner's in place) stores nothing through text either.
    await store.claim({ key: 'late', ...lock, owner: 'old' });
    await redis.client.del(`${redis.prefix}{late}`);
    await store.claim({ key: 'late', ...lock, owner: 'new' });
    expect(await textStore[COMPLETE_TEXT]({ key: 'late', ...done, owner: 'old', text })).toBe(
      false,
    );
    expect((await store.claim({ key: 'late', ...lock, owner: 'y' })).state).toBe('locked');
  });

  it('loads its scripts with EVAL once per connection, then runs them by EVALSHA', async () => {
    const server = await startRedisServer();
    const client = new Redis(server.url);
    try {
      const store = redisStore({ client });
      for (const key of ['a', 'b', 'c']) {
        await store.claim({ key, fingerprint: 'f', owner: 'o', lockTtlMs: 10_000 });
        const done = { key, owner: 'o', fingerprint: 'f', retentionMs: 10_000 };
        expect(await store.complete({ ...done, payload: Buffer.from(key) })).toBe(true);
      }
      const stats = await client.info('commandstats');
      expect(/cmdstat_eval:calls=(\d+)/.exec(stats)?.[1]).toBe('1');
      expect(/cmdstat_evalsha:calls=(\d+)/.exec(stats)?.[1]).toBe('2');
      expect(stats).not.toContain('cmdstat_script');
    } finally {
      client.disconnect();
      await server.stop();
    }
  });

  it('still completes after SCRIPT FLUSH (an EVALSHA answered NOSCRIPT is sent again as EVAL)', async () => {
    const server = await startRedisServer();
    const client = new Redis(server.url);
    try {
      const store = redisStore({ client });
      const lock = { fingerprint: 'f', owner: 'o', lockTtlMs: 10_000 };
      const done = { owner: 'o', fingerprint: 'f', retentionMs: 10_000 };
      await store.claim({ key: 'first', ...lock });
      expect(await store.complete({ key: 'first', ...done, payload: Buffer.from('1') })).toBe(true);
      await client.script('FLUSH');
      await store.claim({ key: 'second', ...lock });
      expect(await store.extend({ key: 'second', ...lock })).toBe(true);
      expect(await store.complete({ key: 'second', ...done, payload: Buffer.from('2') })).toBe(
        true,
      );
      const replay = await store.claim({ key: 'second', ...lock, owner: 'x' });
      expect(replay.state === 'completed' && Buffer.from(replay.payload).toString()).toBe('2');
      // The completion's EVALSHA did meet NOSCRIPT (the script was loaded before the flush).
      expect(await client.info('errorstats')).toContain('errorstat_NOSCRIPT:count=1');
    } finally {
      client.disconnect();
      await server.stop();
    }
  });

  it('validates its options, naming the option', () => {
    expect(() => redisStore({})).toThrow(/exactly one of client or url/);
    expect(() => redisStore({ client: redis.client, operationTimeoutMs: 0 })).toThrow(
      /option "operationTimeoutMs"/,
    );
    let caught: unknown;
    try {
      redisStore({ client: {} as never });
    } catch (error) {
      caught = error;
    }
    expect(isIdempotencyError(caught, 'INVALID_OPTIONS')).toBe(true);
  });
});

describe('Express on a shared Redis', () => {
  it('runs the handler exactly once for 100 concurrent duplicates spread over two instances', async () => {
    const runs = { n: 0 };
    const a = await paymentsApp(redisStore({ client: redis.client, prefix: redis.prefix }), runs);
    const other = new Redis(inject('redisUrl'));
    const b = await paymentsApp(redisStore({ client: other, prefix: redis.prefix }), runs);
    const key = randomUUID();
    const answers = await Promise.all(
      Array.from({ length: 100 }, (_, i) => post(`${i % 2 ? a : b}/payments`, key, { amount: 42 })),
    );
    other.disconnect();
    expect(runs.n).toBe(1);
    const executed = answers.filter((r) => r.status === 201 && !r.headers['idempotent-replayed']);
    const replayed = answers.filter((r) => r.headers['idempotent-replayed'] === 'true');
    const conflicts = answers.filter((r) => r.status === 409);
    expect(executed).toHaveLength(1);
    expect(replayed.length + conflicts.length).toBe(99);
    for (const r of replayed) expect(r.body.equals(executed[0]!.body)).toBe(true);
  });

  it('answers 422 for a different body and 400 for a missing key', async () => {
    const url = await paymentsApp(redisStore({ client: redis.client, prefix: redis.prefix }), {
      n: 0,
    });
    const key = randomUUID();
    await post(`${url}/payments`, key, { amount: 1 });
    expect((await post(`${url}/payments`, key, { amount: 2 })).status).toBe(422);
    expect((await post(`${url}/payments`, undefined, { amount: 2 })).status).toBe(400);
  });

  it('after the server is killed mid-handler, the retry after lock expiry runs exactly once', async () => {
    const script = fileURLToPath(new URL('./support/crash-server.ts', import.meta.url));
    const child = spawn(process.execPath, [script, inject('redisUrl'), redis.prefix, '400'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    let out = '';
    const waitFor = (text: string) =>
      new Promise<string>((resolve, reject) => {
        const check = () => (out.includes(text) ? resolve(out) : undefined);
        child.stdout!.on('data', (chunk: Buffer) => {
          out += chunk.toString();
          check();
        });
        child.once('exit', () => reject(new Error(`crash server exited before "${text}": ${out}`)));
        check();
      });
    const crashUrl = /listening (\S+)/.exec(await waitFor('listening'))![1]!;
    const key = randomUUID();
    const doomed = post(`${crashUrl}/payments`, key, { amount: 7 }).catch((error: Error) => error);
    await waitFor('running');
    child.kill('SIGKILL');
    await exited;
    expect(await doomed).toBeInstanceOf(Error);

    const runs = { n: 0 };
    const url = await paymentsApp(
      redisStore({ client: redis.client, prefix: redis.prefix }),
      runs,
      { lockTtlMs: 400 },
    );
    expect((await post(`${url}/payments`, key, { amount: 7 })).status).toBe(409);
    // Wait (bounded) for Redis to expire the dead owner's lock: retries keep getting 409 until then.
    const deadline = Date.now() + 5_000;
    let answer = await post(`${url}/payments`, key, { amount: 7 });
    while (answer.status === 409 && Date.now() < deadline) {
      const burst = await Promise.all(
        Array.from({ length: 5 }, () => post(`${url}/payments`, key, { amount: 7 })),
      );
      answer = burst.find((r) => r.status !== 409) ?? burst[0]!;
    }
    expect(answer.status).toBe(201);
    const after = await Promise.all(
      Array.from({ length: 10 }, () => post(`${url}/payments`, key, { amount: 7 })),
    );
    expect(after.every((r) => r.headers['idempotent-replayed'] === 'true')).toBe(true);
    expect(runs.n).toBe(1);
    expect(await redis.client.get(`${redis.prefix}runs`)).toBe('1');
  });
});

describe('Redis down or slow', () => {
  it('a store that opens its own client reports connection errors through onError, never as ioredis "Unhandled error event"', async () => {
    const down = await startRedisServer();
    await down.stop(); // a port where nothing listens
    const printed: string[] = [];
    const original = console.error;
    console.error = (...args: unknown[]) => {
      printed.push(args.map(String).join(' '));
    };
    const store = redisStore({ url: down.url, operationTimeoutMs: 200 });
    const errors: Error[] = [];
    const subscription = store.onError((error) => errors.push(error));
    try {
      await expect.poll(() => errors.length, { timeout: 5_000 }).toBeGreaterThanOrEqual(2);
      expect(store.status).not.toBe('ready');
      const claim = store.claim({ key: 'k', fingerprint: 'f', owner: 'o', lockTtlMs: 1000 });
      expect(await claim.catch((e: unknown) => isIdempotencyError(e, 'STORE_UNAVAILABLE'))).toBe(
        true,
      );
      expect(printed.filter((line) => line.includes('Unhandled error event'))).toEqual([]);
    } finally {
      console.error = original;
      subscription.dispose();
      await store.close();
    }
    expect(store.status).toBe('closed');
  });

  it('refuses every operation once closed (STORE_CLOSED) and the adapter answers 503; a client you passed stays open', async () => {
    const store = redisStore({ client: redis.client, prefix: redis.prefix });
    const runs = { n: 0 };
    const url = await paymentsApp(store, runs);
    expect((await post(`${url}/payments`, randomUUID(), { amount: 1 })).status).toBe(201);
    await store.close();
    expect(store.status).toBe('closed');
    const refused = await post(`${url}/payments`, randomUUID(), { amount: 1 });
    expect(refused.status).toBe(503);
    expect(refused.headers['retry-after']).toBe('1');
    expect(refused.json()).toMatchObject({ code: 'STORE_CLOSED' });
    expect(runs.n).toBe(1);
    const lock = { key: 'k', fingerprint: 'f', owner: 'o' };
    const release = await store.release(lock).catch((e: unknown) => e);
    expect(isIdempotencyError(release, 'STORE_CLOSED')).toBe(true);
    expect(await redis.client.ping()).toBe('PONG');
  });

  it('answers 503 with Retry-After within operationTimeoutMs when Redis is stopped, or passes through when failOpen', async () => {
    const privateRedis = await startRedisServer();
    const client = new Redis(privateRedis.url, { maxRetriesPerRequest: 1 });
    client.on('error', () => {});
    const events: IdempotencyEvent[] = [];
    const store = redisStore({ client, prefix: redis.prefix, operationTimeoutMs: 300 });
    const runs = { n: 0 };
    const closed = await paymentsApp(store, runs, { retryAfterSeconds: 2 }, (e) => events.push(e));
    const open = await paymentsApp(store, runs, { failOpen: true });
    expect((await post(`${closed}/payments`, randomUUID(), { amount: 1 })).status).toBe(201);
    await privateRedis.stop();
    const started = Date.now();
    const refused = await post(`${closed}/payments`, randomUUID(), { amount: 1 });
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(refused.status).toBe(503);
    expect(refused.headers['retry-after']).toBe('2');
    expect(refused.json()).toMatchObject({ code: 'STORE_UNAVAILABLE', status: 503 });
    expect(events.map((e) => e.type)).toContain('store-error');
    const passed = await post(`${open}/payments`, randomUUID(), { amount: 1 });
    expect(passed.status).toBe(201);
    expect(runs.n).toBe(2);
    client.disconnect();
  });

  it('answers 503 when Redis is paused longer than operationTimeoutMs (never hangs)', async () => {
    const privateRedis = await startRedisServer();
    const client = new Redis(privateRedis.url);
    const admin = new Redis(privateRedis.url);
    try {
      const url = await paymentsApp(
        redisStore({ client, prefix: redis.prefix, operationTimeoutMs: 200 }),
        { n: 0 },
      );
      await client.ping();
      await admin.call('CLIENT', 'PAUSE', '1500', 'ALL');
      const started = Date.now();
      const answer = await post(`${url}/payments`, randomUUID(), { amount: 1 });
      expect(answer.status).toBe(503);
      expect(Date.now() - started).toBeLessThan(1_200);
    } finally {
      client.disconnect();
      admin.disconnect();
      await privateRedis.stop();
    }
  });
});
