import { randomUUID } from 'node:crypto';
import { freePort, ManualClock, startRedisServer } from '@ballast/test-utils';
import type {} from '@ballast/test-utils/global-setup';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, inject, it, vi } from 'vitest';
import {
  acquireLease,
  fenced,
  fencedSet,
  isDiscoveryError,
  type LeaseBackend,
  type LeaseLostError,
  redisLeaseBackend,
} from '../src/lease/index.ts';

// Every client below stands for a separate process; they share only the Redis of the test run and
// a key prefix of their own test.

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function client(): Redis {
  const redis = new Redis(inject('redisUrl'));
  cleanups.push(() => redis.quit());
  return redis;
}

function setup() {
  const prefix = `test:lease:${randomUUID()}:`;
  return {
    prefix,
    backend: (): LeaseBackend => redisLeaseBackend({ client: client(), prefix }),
    holderKey: (key: string) => `${prefix}{${key}}:holder`,
  };
}

async function expectCode(promise: Promise<unknown>, code: string): Promise<unknown> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isDiscoveryError(error), String(error)).toBe(true);
  expect((error as { code: string }).code).toBe(code);
  return error;
}

describe('acquireLease() on Redis', () => {
  it('hands out fencing tokens that strictly increase across holders, one holder at a time', async () => {
    const { backend } = setup();
    const [a, b, c] = [backend(), backend(), backend()];
    const first = await acquireLease(a, 'job', { ttlMs: 5000 });
    cleanups.push(() => first.release());
    const timeout = await expectCode(acquireLease(b, 'job', { ttlMs: 5000 }), 'LEASE_TIMEOUT');
    expect(isDiscoveryError(timeout, 'LEASE_TIMEOUT') && timeout.key).toBe('job');
    expect(await first.release()).toBe(true);
    expect(first.signal.aborted).toBe(true);
    expect((first.signal.reason as LeaseLostError).reason).toBe('released');
    const second = await acquireLease(b, 'job', { ttlMs: 5000 });
    expect(second.token).toBeGreaterThan(first.token);
    // A contender that waits gets the lease as soon as the holder releases it.
    const waiting = acquireLease(c, 'job', { ttlMs: 5000, waitMs: 5000 });
    await second.release();
    const third = await waiting;
    expect(third.token).toBeGreaterThan(second.token);
    // Tokens are consecutive while Redis keeps the fence.
    expect(second.token).toBe(first.token + 1);
    expect(third.token).toBe(second.token + 1);
    await third.release();
    // Another key counts on its own; a key's first token is seeded from Redis's TIME in µs.
    const [seconds, micros] = await client().time();
    const other = await acquireLease(a, 'other', { ttlMs: 5000 });
    expect(other.token).toBeGreaterThan(Number(seconds) * 1e6 + Number(micros));
    expect(Number.isSafeInteger(other.token)).toBe(true);
    await other.release();
  });

  it('renews every ~ttl/3 with a compare-and-set that only the holder passes', async () => {
    const { backend, holderKey } = setup();
    const clock = new ManualClock(1000);
    const redis = client();
    const lease = await acquireLease(backend(), 'renewed', { ttlMs: 3000, clock });
    expect(lease.expiresAt).toBe(4000);
    clock.advance(1100); // the renewal timer (~1000 ms, with jitter) fires
    await vi.waitFor(() => expect(lease.expiresAt).toBeGreaterThan(4000), { timeout: 5000 });
    expect(lease.signal.aborted).toBe(false);
    expect(await redis.pttl(holderKey('renewed'))).toBeGreaterThan(2000);

    // Another owner takes the key (as after a Redis failover): the next renewal finds it stolen.
    await redis.set(holderKey('renewed'), '999 someone-else');
    await expectCode(lease.renew(), 'LEASE_LOST');
    expect((lease.signal.reason as LeaseLostError).reason).toBe('stolen');
    // release() is compare-and-delete: the other owner's hold stays.
    expect(await lease.release()).toBe(false);
    expect(await redis.get(holderKey('renewed'))).toBe('999 someone-else');
  });

  it('a holder stalled past its TTL loses its signal before expiry, and its late fenced write is refused', async () => {
    const { backend } = setup();
    const redis = client();
    const clock = new ManualClock(0);
    const lost: { reason: string; at: number }[] = [];
    // The stalled holder renews nothing (its renewals are paused, as in a long GC pause).
    const stalled = await acquireLease(backend(), 'resource', {
      ttlMs: 400,
      safetyMarginMs: 50,
      autoRenew: false,
      clock,
    });
    stalled.onLost((reason) => lost.push({ reason, at: clock.now() }));
    expect(await fencedSet(redis, 'test:lease:resource', 'from stalled', stalled.token)).toBe(true);
    clock.advance(349);
    expect(stalled.signal.aborted).toBe(false);
    clock.advance(1);
    expect(stalled.signal.aborted).toBe(true);
    await Promise.resolve();
    expect(lost).toEqual([{ reason: 'renew-failed', at: 350 }]);
    expect(lost[0]!.at).toBeLessThan(stalled.expiresAt);
    // An expired lease is never extended.
    await expectCode(stalled.renew(), 'LEASE_LOST');

    // The next holder gets a higher token and writes; the stalled holder's late write is refused.
    const next = await acquireLease(backend(), 'resource', { ttlMs: 5000, waitMs: 5000 });
    expect(next.token).toBeGreaterThan(stalled.token);
    expect(await fenced(next).set(redis, 'test:lease:resource', 'from next')).toBe(true);
    expect(await fencedSet(redis, 'test:lease:resource', 'late', stalled.token)).toBe(false);
    expect(await redis.get('test:lease:resource')).toBe('from next');
    expect(fenced(stalled).accepts(next.token)).toBe(false);
    expect(fenced(next).accepts(stalled.token)).toBe(true);
    await next.release();
    await redis.del('test:lease:resource', 'test:lease:resource:fence');
  });

  it('never extends an expired lease: a holder whose clock jumped past expiry loses it without asking Redis', async () => {
    const { backend } = setup();
    const real = backend();
    let renewals = 0;
    const counting = {
      ...real,
      renew: (...args: Parameters<LeaseBackend['renew']>) => {
        renewals++;
        return real.renew(...args);
      },
    };
    // A clock whose time can jump without its timers running, as after a process stall.
    const manual = new ManualClock(0);
    let skew = 0;
    const clock = {
      now: () => manual.now() + skew,
      setTimeout: (fn: () => void, ms: number) => manual.setTimeout(fn, ms),
      clearTimeout: (handle: unknown) => manual.clearTimeout(handle),
    };
    const lease = await acquireLease(counting, 'stall', { ttlMs: 1000, clock });
    skew = 1001;
    await expectCode(lease.renew(), 'LEASE_LOST');
    expect((lease.signal.reason as LeaseLostError).reason).toBe('expired');
    expect(renewals).toBe(0);
    await lease.release();
  });

  it('stops waiting when its signal aborts, and a wait never outlasts waitMs', async () => {
    const { backend } = setup();
    const holder = await acquireLease(backend(), 'busy', { ttlMs: 5000 });
    cleanups.push(() => holder.release());
    const controller = new AbortController();
    const waiting = acquireLease(backend(), 'busy', {
      ttlMs: 5000,
      waitMs: 60_000,
      signal: controller.signal,
    });
    const reason = new Error('shutting down');
    controller.abort(reason);
    await expect(waiting).rejects.toBe(reason);
    await expect(
      acquireLease(backend(), 'busy', { ttlMs: 5000, signal: controller.signal }),
    ).rejects.toBe(reason);

    const clock = new ManualClock(0);
    const timedOut = acquireLease(backend(), 'busy', { ttlMs: 5000, waitMs: 1000, clock });
    // Bounded: time moves only while a poll waits on the manual clock; otherwise Redis answers.
    let settled = false;
    void timedOut
      .catch(() => {})
      .finally(() => {
        settled = true;
      });
    for (let i = 0; i < 10_000 && !settled; i++) {
      if (clock.pending > 0) clock.advance(100);
      else await new Promise<void>((resolve) => setImmediate(resolve));
    }
    expect(settled).toBe(true);
    expect(clock.now()).toBeLessThanOrEqual(1100);
    const error = await expectCode(timedOut, 'LEASE_TIMEOUT');
    expect(isDiscoveryError(error, 'LEASE_TIMEOUT') && error.waitMs).toBe(1000);
    expect(holder.signal.aborted).toBe(false);
  });

  it('fails with BACKEND_UNAVAILABLE when Redis does not answer', async () => {
    const port = await freePort();
    const dead = new Redis(port, '127.0.0.1', {
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    dead.on('error', () => {});
    cleanups.push(() => dead.disconnect());
    const backend = redisLeaseBackend({ client: dead, timeoutMs: 500 });
    const error = await expectCode(acquireLease(backend, 'k'), 'BACKEND_UNAVAILABLE');
    expect(isDiscoveryError(error, 'BACKEND_UNAVAILABLE') && error.backend).toBe('redis');
  });

  it('keeps fencing tokens increasing across a Redis restart without persistence (the fence is re-seeded from TIME)', async () => {
    let server = await startRedisServer();
    cleanups.push(() => server.stop());
    const redis = new Redis(server.url, { retryStrategy: () => 20, maxRetriesPerRequest: 1 });
    redis.on('error', () => {});
    cleanups.push(() => redis.disconnect());
    const backend = redisLeaseBackend({ client: redis, timeoutMs: 1000 });
    const before: number[] = [];
    for (let i = 0; i < 3; i++) {
      const lease = await acquireLease(backend, 'job', { ttlMs: 5000 });
      before.push(lease.token);
      await lease.release();
    }
    // A holder whose key the restart wipes: its next renewal finds a newer holder's token.
    const holder = await acquireLease(backend, 'job', { ttlMs: 5000, autoRenew: false });
    await server.stop();
    server = await startRedisServer({ port: server.port });
    await vi.waitFor(() => expect(redis.status).toBe('ready'), { timeout: 5000 });
    expect(await redis.exists('ballast:lease:{job}:fence')).toBe(0);
    const after = await acquireLease(backend, 'job', { ttlMs: 5000 });
    expect(after.token).toBeGreaterThan(holder.token);
    expect(Math.max(...before)).toBeLessThan(holder.token);
    await expectCode(holder.renew(), 'LEASE_LOST');
    expect((holder.signal.reason as LeaseLostError).reason).toBe('stolen');
    await after.release();
  });

  it('refuses bad options with INVALID_OPTIONS naming the option', async () => {
    const { backend } = setup();
    const b = backend();
    const cases: [() => Promise<unknown>, string][] = [
      [() => acquireLease(b, 'k', { ttlMs: -1 }), 'ttlMs'],
      [() => acquireLease(b, 'k', { ttlMs: 1000, safetyMarginMs: 500 }), 'safetyMarginMs'],
      [() => acquireLease(b, 'k', { ttl: 1000 } as never), 'ttl'],
      [() => acquireLease(b, '', {}), 'key'],
      [() => acquireLease({} as never, 'k', {}), 'backend'],
      [async () => redisLeaseBackend({} as never), 'client'],
      [async () => fenced(-1), 'token'],
    ];
    for (const [call, option] of cases) {
      const error = await expectCode(call(), 'INVALID_OPTIONS');
      expect(isDiscoveryError(error, 'INVALID_OPTIONS') && error.option).toBe(option);
    }
  });
});
