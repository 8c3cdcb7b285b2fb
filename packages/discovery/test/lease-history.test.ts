import { randomUUID } from 'node:crypto';
import type {} from '@ballast/test-utils/global-setup';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, inject, it } from 'vitest';
import {
  acquireLease,
  fencedSet,
  type LeaseBackend,
  type LeaseLostError,
  redisLeaseBackend,
} from '../src/lease/index.ts';

// A randomized run of contenders on one key, some of which stall past their TTL (their renewals
// paused), checked afterwards against Redis's own clock (every script returns Redis's TIME).

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function client(): Redis {
  const redis = new Redis(inject('redisUrl'));
  cleanups.push(() => redis.quit());
  return redis;
}

interface Hold {
  token: number;
  owner: string;
  acquiredAt: number;
  /** Redis time of the last acquire or successful renewal. */
  lastRenewAt: number;
  releasedAt?: number;
}

/** A backend that records every hold on Redis's clock. */
function recording(backend: LeaseBackend, holds: Map<number, Hold>): LeaseBackend {
  return {
    kind: backend.kind,
    holder: (key) => backend.holder(key),
    async acquire(key, owner, ttlMs) {
      const result = await backend.acquire(key, owner, ttlMs);
      if (result.acquired) {
        holds.set(result.token, {
          token: result.token,
          owner,
          acquiredAt: result.serverTimeMs,
          lastRenewAt: result.serverTimeMs,
        });
      }
      return result;
    },
    async renew(key, token, ttlMs) {
      const result = await backend.renew(key, token, ttlMs);
      if (result.status === 'ok') holds.get(token)!.lastRenewAt = result.serverTimeMs;
      return result;
    },
    async release(key, token) {
      const result = await backend.release(key, token);
      if (result.released) holds.get(token)!.releasedAt = result.serverTimeMs;
      return result;
    },
  };
}

interface Write {
  token: number;
  sentAt: number;
  doneAt: number;
  accepted: boolean;
}

const random = (min: number, max: number): number => min + Math.floor(Math.random() * (max - min));
const pause = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

describe('leases under contention (history check)', () => {
  it('never two holders at once by Redis’s clock, tokens strictly increase, late writes are refused', async () => {
    const prefix = `test:lease:${randomUUID()}:`;
    const resource = `${prefix}resource`;
    const ttlMs = 500;
    const holds = new Map<number, Hold>();
    const writes: Write[] = [];
    const lossesBeforeExpiry: boolean[] = [];
    const writer = client();

    const write = async (token: number) => {
      const sentAt = performance.now();
      const accepted = await fencedSet(writer, resource, String(token), token);
      writes.push({ token, sentAt, doneAt: performance.now(), accepted });
    };

    const contender = async (name: string) => {
      const backend = recording(redisLeaseBackend({ client: client(), prefix }), holds);
      for (let round = 0; round < 4; round++) {
        const stall = Math.random() < 0.3;
        const lease = await acquireLease(backend, 'key', {
          ttlMs,
          waitMs: 10_000,
          owner: `${name}#${round}`,
          autoRenew: !stall,
        });
        lease.onLost(() => lossesBeforeExpiry.push(performance.now() < lease.expiresAt));
        await write(lease.token);
        if (stall) {
          // Stalled past the TTL: the signal must have aborted, and the late write may only
          // land if nobody with a higher token wrote in between.
          await pause(ttlMs + random(50, 150));
          expect(lease.signal.aborted).toBe(true);
          expect((lease.signal.reason as LeaseLostError).reason).toBe('renew-failed');
          await write(lease.token);
        } else {
          await pause(random(0, ttlMs));
          expect(lease.signal.aborted).toBe(false);
          await write(lease.token);
        }
        await lease.release();
        await pause(random(0, 30));
      }
    };

    await Promise.all(['a', 'b', 'c', 'd'].map((name) => contender(name)));

    // Tokens: one hold per token, and in acquisition order they strictly increase.
    const ordered = [...holds.values()].sort(
      (x, y) => x.acquiredAt - y.acquiredAt || x.token - y.token,
    );
    expect(ordered).toHaveLength(16);
    for (let i = 1; i < ordered.length; i++) {
      expect(ordered[i]!.token).toBeGreaterThan(ordered[i - 1]!.token);
    }
    // No overlap on Redis's clock: each hold ends (release, or last renewal + TTL) before the next
    // one starts (1 ms of rounding between TIME in µs and PX in ms).
    for (let i = 1; i < ordered.length; i++) {
      const before = ordered[i - 1]!;
      const end = Math.min(before.releasedAt ?? Infinity, before.lastRenewAt + ttlMs);
      expect(end, `hold ${before.token} vs ${ordered[i]!.token}`).toBeLessThanOrEqual(
        ordered[i]!.acquiredAt + 1,
      );
    }
    // The fenced resource never accepted a lower token after a higher one was accepted.
    for (const later of writes) {
      for (const earlier of writes) {
        if (earlier.accepted && earlier.doneAt < later.sentAt && earlier.token > later.token) {
          expect(later.accepted, `token ${later.token} after ${earlier.token}`).toBe(false);
        }
      }
    }
    const highest = Math.max(...writes.filter((w) => w.accepted).map((w) => w.token));
    expect(await writer.get(resource)).toBe(String(highest));
    // Every lost lease lost its signal before it expired.
    expect(lossesBeforeExpiry.every(Boolean)).toBe(true);
  }, 60_000);
});
