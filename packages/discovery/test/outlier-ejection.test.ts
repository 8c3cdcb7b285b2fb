import { ManualClock } from '@ballast/test-utils';
import { describe, expect, it } from 'vitest';
import { type EjectionEvent, isDiscoveryError, resolver, roundRobin } from '../src/index.ts';
import { fleet, ManualRegistry } from './support/manual-registry.ts';

function setup(n: number, options: Partial<Parameters<typeof resolver>[0]> = {}) {
  const clock = new ManualClock(0);
  const registry = new ManualRegistry();
  const r = resolver({ registry, service: 'orders', clock, balancer: roundRobin(), ...options });
  registry.push('orders', fleet(n));
  const events: EjectionEvent[] = [];
  r.onEjection((e) => events.push(e));
  /** Sends requests round robin; the ones to `bad` fail with `outcome`. */
  const run = (
    count: number,
    bad: string,
    outcome: 'server-error' | 'connect-error' = 'connect-error',
  ) => {
    const ids: string[] = [];
    for (let i = 0; i < count; i++) {
      const pick = r.pick();
      ids.push(pick.instance.id);
      pick.done(pick.instance.id === bad ? outcome : 'success');
    }
    return ids;
  };
  return { clock, registry, r, events, run };
}

describe('outlier ejection', () => {
  it('ejects after 5 consecutive failures, for 30 s, then lets the instance back', () => {
    const { clock, r, events, run } = setup(10);
    run(40, 'i3'); // four failures of i3: not yet
    expect(r.status().ejected).toBe(0);
    run(10, 'i3');
    expect(r.status().ejected).toBe(1);
    expect(events).toEqual([
      expect.objectContaining({ ejected: true, durationMs: 30_000, timesEjected: 1 }),
    ]);
    expect(run(50, 'i3')).not.toContain('i3');
    clock.advance(30_000);
    expect(run(10, 'none')).toContain('i3');
    expect(events.at(-1)).toMatchObject({ ejected: false, timesEjected: 1 });
    expect(r.endpoints().find((e) => e.instance.id === 'i3')?.ejected).toBe(false);
  });

  it('a success in between resets the count (consecutive failures only)', () => {
    const { r } = setup(1);
    for (let i = 0; i < 20; i++) {
      const pick = r.pick();
      pick.done(i % 4 === 3 ? 'success' : 'server-error');
    }
    expect(r.status().ejected).toBe(0);
  });

  it('counts 5xx answers like connection errors, and ignores cancelled requests', () => {
    const { r } = setup(1, { panicThreshold: 0 });
    for (let i = 0; i < 4; i++) r.pick().done('server-error');
    for (let i = 0; i < 3; i++) r.pick().done('cancelled');
    r.pick().done('server-error');
    expect(r.status().ejected).toBe(1);
  });

  it('lengthens each ejection (30 s × times ejected), capped at maxEjectionMs', () => {
    const { clock, r, events, run } = setup(10, {
      ejection: { maxEjectionMs: 70_000, decayIntervalMs: 86_400_000 },
    });
    const durations: number[] = [];
    for (let round = 0; round < 4; round++) {
      run(50, 'i0');
      durations.push(events.at(-1)!.durationMs);
      clock.advance(durations.at(-1)!);
      run(1, 'none'); // lets the instance back
    }
    expect(durations).toEqual([30_000, 60_000, 70_000, 70_000]);
    void r;
  });

  it('lets the ejection multiplier decay while the instance stays healthy', () => {
    const { clock, events, run } = setup(10);
    run(50, 'i0');
    clock.advance(30_000);
    run(1, 'none');
    clock.advance(20_000); // two healthy 10 s periods: the count goes back to 0
    run(50, 'i0');
    expect(events.filter((e) => e.ejected).map((e) => e.durationMs)).toEqual([30_000, 30_000]);
  });

  it('ejects at most 10 % of the instances (at least one)', () => {
    const { r, run } = setup(5);
    const failAll = () => {
      for (let i = 0; i < 100; i++) r.pick().done('connect-error');
    };
    failAll();
    expect(r.status().ejected).toBe(1);
    void run;
    const big = setup(30);
    for (let i = 0; i < 1000; i++) big.r.pick().done('connect-error');
    expect(big.r.status().ejected).toBe(3);
  });

  it('answers NO_INSTANCE_AVAILABLE with retryAfterMs = time to the first return', () => {
    const { clock, r } = setup(1, { panicThreshold: 0 });
    for (let i = 0; i < 5; i++) r.pick().done('connect-error');
    clock.advance(12_000);
    let error: unknown;
    try {
      r.pick();
    } catch (e) {
      error = e;
    }
    expect(isDiscoveryError(error, 'NO_INSTANCE_AVAILABLE') && error.retryAfterMs).toBe(18_000);
    clock.advance(18_000);
    expect(r.pick().instance.id).toBe('i0');
  });

  it('with panic on, a fully ejected service still gets traffic', () => {
    const { r } = setup(1);
    for (let i = 0; i < 5; i++) r.pick().done('connect-error');
    expect(r.status()).toMatchObject({ ejected: 1, panic: true });
    expect(r.pick().instance.id).toBe('i0');
  });

  it('can be turned off', () => {
    const { r } = setup(2, { ejection: false });
    for (let i = 0; i < 50; i++) r.pick().done('connect-error');
    expect(r.status().ejected).toBe(0);
  });
});
