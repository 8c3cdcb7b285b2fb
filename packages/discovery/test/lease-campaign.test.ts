import { randomUUID } from 'node:crypto';
import type {} from '@ballast/test-utils/global-setup';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, inject, it, vi } from 'vitest';
import {
  type Campaign,
  campaign,
  isDiscoveryError,
  type LeadershipChange,
  type LeaseBackend,
  redisLeaseBackend,
} from '../src/lease/index.ts';

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function client(): Redis {
  const redis = new Redis(inject('redisUrl'));
  cleanups.push(() => redis.quit());
  return redis;
}

/** A backend whose process can "freeze": from then on its commands never answer. */
function freezable(backend: LeaseBackend): LeaseBackend & { freeze(): void } {
  let frozen = false;
  const hang = <T>(call: () => Promise<T>): Promise<T> =>
    frozen ? new Promise<T>(() => {}) : call();
  return {
    kind: backend.kind,
    freeze: () => {
      frozen = true;
    },
    acquire: (key, owner, ttlMs) => hang(() => backend.acquire(key, owner, ttlMs)),
    renew: (key, token, ttlMs) => hang(() => backend.renew(key, token, ttlMs)),
    release: (key, token) => hang(() => backend.release(key, token)),
    holder: (key) => backend.holder(key),
  };
}

describe('campaign()', () => {
  it('elects one leader; when its renewals stop another leads within ttl + one renewal period', async () => {
    const prefix = `test:lease:${randomUUID()}:`;
    const ttlMs = 600;
    const retryMs = 200;
    const events: { id: string; change: LeadershipChange; at: number }[] = [];
    const candidates: { campaign: Campaign; backend: ReturnType<typeof freezable> }[] = [];
    for (const id of ['one', 'two', 'three']) {
      const backend = freezable(redisLeaseBackend({ client: client(), prefix }));
      const c = campaign(backend, 'election', { ttlMs, retryMs, id });
      c.onChange((change) => events.push({ id, change, at: performance.now() }));
      cleanups.push(() => c.close());
      candidates.push({ campaign: c, backend });
    }
    await vi.waitFor(
      () => expect(candidates.filter((c) => c.campaign.isLeader())).toHaveLength(1),
      {
        timeout: 5000,
      },
    );
    const first = candidates.find((c) => c.campaign.isLeader())!;
    expect(await first.campaign.leader()).toEqual({
      owner: first.campaign.id,
      token: first.campaign.lease!.token,
    });
    const firstToken = first.campaign.lease!.token;

    // The leader's process freezes: its renewals stop.
    const frozenAt = performance.now();
    first.backend.freeze();
    await vi.waitFor(
      () => expect(candidates.filter((c) => c !== first && c.campaign.isLeader())).toHaveLength(1),
      { timeout: 5000, interval: 10 },
    );
    const tookOverAfter = performance.now() - frozenAt;
    const second = candidates.find((c) => c !== first && c.campaign.isLeader())!;
    // ttl + one renewal period, with room for a loaded machine.
    expect(tookOverAfter).toBeLessThan(ttlMs + retryMs * 1.2 + 400);
    expect(second.campaign.lease!.token).toBeGreaterThan(firstToken);
    // The old leader knew before the new one was elected.
    const lost = events.find((e) => e.id === first.campaign.id && !e.change.leader)!;
    const elected = events.find((e) => e.id === second.campaign.id && e.change.leader)!;
    // 'renew-failed' when the deadline timer fired on time, 'expired' when a loaded machine ran it
    // only after expiry (the ManualClock test in lease.test.ts pins the exact reason).
    expect(lost.change).toEqual({
      leader: false,
      reason: expect.toBeOneOf(['renew-failed', 'expired']),
    });
    expect(lost.at).toBeLessThan(elected.at);
    expect(first.campaign.isLeader()).toBe(false);
    expect((await second.campaign.leader())?.owner).toBe(second.campaign.id);
  });

  it('resign() hands the lead over; close() releases it with reason shutdown', async () => {
    const prefix = `test:lease:${randomUUID()}:`;
    const backendA = redisLeaseBackend({ client: client(), prefix });
    const backendB = redisLeaseBackend({ client: client(), prefix });
    const lostA: string[] = [];
    const a = campaign(backendA, 'election', {
      ttlMs: 1000,
      retryMs: 50,
      id: 'a',
      onLost: (r) => lostA.push(r),
    });
    cleanups.push(() => a.close());
    await vi.waitFor(() => expect(a.isLeader()).toBe(true), { timeout: 5000 });
    const b = campaign(backendB, 'election', { ttlMs: 1000, retryMs: 50, id: 'b' });
    cleanups.push(() => b.close());
    await a.resign();
    expect(lostA).toEqual(['released']);
    await vi.waitFor(() => expect(b.isLeader()).toBe(true), { timeout: 5000 });
    expect(a.isLeader()).toBe(false);
    const lostB: string[] = [];
    b.onChange((change) => {
      if (!change.leader) lostB.push(change.reason);
    });
    await b.close();
    await b.close();
    expect(lostB).toEqual(['shutdown']);
    expect(await b.leader()).toBeUndefined();
  });

  it('refuses bad options with INVALID_OPTIONS', () => {
    const backend = redisLeaseBackend({ client: client() });
    for (const [call, option] of [
      [() => campaign(backend, ''), 'name'],
      [() => campaign(backend, 'x', { ttlMs: 0 }), 'ttlMs'],
      [() => campaign(backend, 'x', { onElected: 'no' as never }), 'onElected'],
    ] as const) {
      let error: unknown;
      try {
        call();
      } catch (e) {
        error = e;
      }
      expect(isDiscoveryError(error, 'INVALID_OPTIONS') && error.option).toBe(option);
    }
  });
});
