import { randomUUID } from 'node:crypto';
import type {} from '@ballast/test-utils/global-setup';
import { afterEach, expect, inject, it, vi } from 'vitest';
import { type ContenderProcess, startContender } from './support/contender-process.ts';

// Leader failover with real processes: three candidates, each a Node process of its own running
// campaign() on the harness's Redis. The leader is SIGKILLed (no release, no goodbye) twice.

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

it('a SIGKILLed leader is replaced within ttlMs + one renewal period; no two leaders’ holds overlap on Redis’s clock', async () => {
  const ttlMs = 900;
  const retryMs = ttlMs / 3;
  const prefix = `test:lease-failover:${randomUUID()}:`;
  const candidates = ['p1', 'p2', 'p3'].map((id) =>
    startContender({
      mode: 'campaign',
      id,
      leaseUrl: inject('redisUrl'),
      prefix,
      key: 'leader',
      ttlMs,
      retryMs,
    }),
  );
  for (const c of candidates) {
    cleanups.push(async () => {
      c.child.kill('SIGKILL');
      await c.exited();
    });
  }
  const alive = new Set<ContenderProcess>(candidates);
  const electedSince = (since: number) =>
    [...alive].filter((c) => c.events.some((e) => e.event === 'elected' && e.receivedAt > since));

  let since = 0;
  for (const round of [1, 2]) {
    await vi.waitFor(() => expect(electedSince(since)).toHaveLength(1), {
      timeout: 10_000,
      interval: 5,
    });
    const leader = electedSince(since)[0]!;
    // Let it renew at least once, so the kill lands on a leader in steady state.
    await leader.next((e) => e.event === 'renewed', 5000);
    const killedAt = performance.now();
    leader.child.kill('SIGKILL');
    await leader.exited();
    alive.delete(leader);
    await vi.waitFor(() => expect(electedSince(killedAt)).toHaveLength(1), {
      timeout: 10_000,
      interval: 5,
    });
    const next = electedSince(killedAt)[0]!;
    const elected = next.events.find((e) => e.event === 'elected' && e.receivedAt > killedAt)!;
    // ttl + one renewal period (+20 % jitter), plus room for process I/O on a loaded machine.
    expect(elected.receivedAt - killedAt, `failover ${round}`).toBeLessThan(
      ttlMs + retryMs * 1.2 + 500,
    );
    since = killedAt;
  }
  // The last one leaves cleanly (SIGTERM: campaign.close() releases the lead).
  const last = [...alive][0]!;
  last.child.kill('SIGTERM');
  await last.exited();
  expect(last.events.some((e) => e.event === 'released')).toBe(true);

  // Every hold on Redis's clock: from its acquire to its release, or to its last renewal + ttl.
  // (A renewal the killed process ran but could not report would only end its hold later.)
  const holds = new Map<number, { start: number; lastRenew: number; released?: number }>();
  for (const c of candidates) {
    for (const e of c.events) {
      if (e.event === 'acquired') holds.set(e.token!, { start: e.at!, lastRenew: e.at! });
      if (e.event === 'renewed') holds.get(e.token!)!.lastRenew = e.at!;
      if (e.event === 'released') holds.get(e.token!)!.released = e.at!;
    }
  }
  const ordered = [...holds.entries()].sort((x, y) => x[1].start - y[1].start);
  expect(ordered.length).toBeGreaterThanOrEqual(3);
  for (let i = 1; i < ordered.length; i++) {
    const [token, before] = ordered[i - 1]!;
    const [nextToken, after] = ordered[i]!;
    expect(nextToken).toBeGreaterThan(token);
    const end = Math.min(before.released ?? Infinity, before.lastRenew + ttlMs);
    // 1 ms of rounding between TIME (µs) and PX (ms).
    expect(end, `hold ${token} vs ${nextToken}`).toBeLessThanOrEqual(after.start + 1);
  }
}, 40_000);
