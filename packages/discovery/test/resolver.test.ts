import { ManualClock } from '@ballast/test-utils';
import { describe, expect, expectTypeOf, it } from 'vitest';
import {
  type DiscoveryError,
  InvalidOptionsError,
  isDiscoveryError,
  type ResolverStatus,
  resolver,
  roundRobin,
  staticRegistry,
} from '../src/index.ts';
import { fleet, ManualRegistry } from './support/manual-registry.ts';

function setup(options: Partial<Parameters<typeof resolver>[0]> = {}) {
  const clock = new ManualClock(1_000_000);
  const registry = new ManualRegistry();
  const r = resolver({ registry, service: 'orders', clock, balancer: roundRobin(), ...options });
  return { clock, registry, r };
}

function caught(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

describe('resolver', () => {
  it('is ready once the registry answers, and picks among its instances', async () => {
    const { registry, r } = setup();
    expect(r.status().state).toBe('pending');
    const ready = r.ready();
    registry.push('orders', fleet(3));
    await ready;
    expect(r.status()).toMatchObject({ state: 'fresh', instances: 3, available: 3, panic: false });
    const ids = Array.from({ length: 6 }, () => {
      const pick = r.pick();
      pick.done('success');
      return pick.instance.id;
    });
    expect(ids).toEqual(['i0', 'i1', 'i2', 'i0', 'i1', 'i2']);
    await r.close();
  });

  it('works with staticRegistry (first list on a microtask)', async () => {
    const registry = staticRegistry([{ service: 'orders', address: '127.0.0.1', port: 1 }]);
    await using r = resolver({ registry, service: 'orders' });
    await r.ready();
    expect(r.pick().instance.port).toBe(1);
  });

  it('answers SERVICE_NOT_FOUND for a service the registry never listed', async () => {
    const { registry, r } = setup();
    registry.push('orders', []);
    await r.ready();
    const error = caught(() => r.pick());
    expect(isDiscoveryError(error, 'SERVICE_NOT_FOUND')).toBe(true);
    expect((error as Error).message).toContain('"orders"');
  });

  it('fails ready() with REGISTRY_UNAVAILABLE when the first answer is an error', async () => {
    const { registry, r } = setup();
    const ready = r.ready();
    registry.fail();
    await expect(ready).rejects.toSatisfy((e) => isDiscoveryError(e, 'REGISTRY_UNAVAILABLE'));
  });

  it('fails ready() after resolveTimeoutMs when the registry says nothing (never a hang)', async () => {
    const { clock, r } = setup({ resolveTimeoutMs: 2000 });
    const ready = r.ready();
    const settled = expect(ready).rejects.toSatisfy(
      (e) => isDiscoveryError(e, 'REGISTRY_UNAVAILABLE') && /2000 ms/.test(e.message),
    );
    await clock.advanceAsync(2000);
    await settled;
  });

  it('ready() honours its signal', async () => {
    const { r } = setup();
    const controller = new AbortController();
    const ready = r.ready({ signal: controller.signal });
    controller.abort(new Error('stop'));
    await expect(ready).rejects.toThrow('stop');
  });

  it('pick() before the first answer throws NO_INSTANCE_AVAILABLE at once', () => {
    const { r } = setup();
    const error = caught(() => r.pick());
    expect(isDiscoveryError(error, 'NO_INSTANCE_AVAILABLE')).toBe(true);
  });

  it('serves the last known good list while the registry is down, up to maxStaleMs', async () => {
    const { clock, registry, r } = setup({ maxStaleMs: 60_000 });
    const statuses: ResolverStatus[] = [];
    const errors: DiscoveryError[] = [];
    r.onStatus((s) => statuses.push(s));
    r.onError((e) => errors.push(e));
    registry.push('orders', fleet(2));
    registry.fail('ECONNREFUSED');
    expect(r.status()).toMatchObject({ state: 'stale', instances: 2, staleForMs: 0 });
    expect(r.status().lastError?.code).toBe('REGISTRY_UNAVAILABLE');
    clock.advance(59_000);
    expect(r.pick().instance.id).toBe('i0');
    expect(r.status().staleForMs).toBe(59_000);
    registry.fail('still down'); // a second error does not restart the clock
    clock.advance(1000);
    expect(r.status().state).toBe('expired');
    const error = caught(() => r.pick());
    expect(isDiscoveryError(error, 'REGISTRY_UNAVAILABLE')).toBe(true);
    expect(r.instances()).toEqual([]);

    registry.push('orders', fleet(1));
    expect(r.status()).toMatchObject({
      state: 'fresh',
      instances: 1,
      staleForMs: 0,
      lastError: undefined,
    });
    expect(statuses.map((s) => s.state)).toEqual(['fresh', 'stale', 'expired', 'fresh']);
    expect(errors).toHaveLength(2);
  });

  it('recovering before maxStaleMs cancels the expiry', async () => {
    const { clock, registry, r } = setup({ maxStaleMs: 1000 });
    registry.push('orders', fleet(2));
    registry.fail();
    clock.advance(500);
    registry.push('orders', fleet(2));
    clock.advance(5000);
    expect(r.status().state).toBe('fresh');
    expect(clock.pending).toBe(0);
  });

  it('asks the registry again while stale: a watch silent after recovery does not keep it stale', async () => {
    const { clock, registry, r } = setup({ maxStaleMs: 60_000 });
    registry.push('orders', fleet(2));
    registry.fail();
    await clock.advanceAsync(2000); // still down: the probe fails, and tries again later
    expect(r.status().state).toBe('stale');
    registry.down = false; // back, with the same list — and its watch pushes nothing
    await clock.advanceAsync(2000);
    expect(r.status()).toMatchObject({ state: 'fresh', instances: 2 });
    await clock.advanceAsync(10_000);
    expect(clock.pending).toBe(0);
  });

  it('never serves an empty list because of a blip: an empty answer is treated as stale', () => {
    const { clock, registry, r } = setup({ maxStaleMs: 10_000 });
    registry.push('orders', fleet(3));
    registry.push('orders', []);
    expect(r.status()).toMatchObject({ state: 'stale', instances: 3 });
    expect(r.pick().instance.id).toBe('i0');
    registry.push('orders', fleet(2));
    expect(r.status()).toMatchObject({ state: 'fresh', instances: 2 });
    registry.push('orders', []);
    clock.advance(10_000);
    expect(r.status().state).toBe('expired');
  });

  it('reports a malformed record without going stale', () => {
    const { registry, r } = setup();
    const errors: DiscoveryError[] = [];
    r.onError((e) => errors.push(e));
    registry.push('orders', fleet(1));
    let bad: unknown;
    try {
      registry.push('orders', [{ port: 0 }]);
    } catch (error) {
      bad = error;
    }
    registry.report(bad as DiscoveryError);
    expect(errors.map((e) => e.code)).toEqual(['INVALID_INSTANCE']);
    expect(r.status().state).toBe('fresh');
  });

  it('keeps per-instance state across updates and starts a returning instance fresh', () => {
    const { registry, r } = setup();
    registry.push('orders', fleet(2));
    const pick = r.pick();
    expect(r.endpoints()[0]?.outstanding).toBe(1);
    registry.push('orders', fleet(3));
    expect(r.endpoints()[0]?.outstanding).toBe(1);
    pick.done('success');
    pick.done('success'); // idempotent
    expect(r.endpoints()[0]?.outstanding).toBe(0);
  });

  it('spreads traffic over every instance below the panic threshold', () => {
    const { registry, r } = setup();
    registry.push('orders', [
      { id: 'a', healthy: false },
      { id: 'b', healthy: false },
      { id: 'c', healthy: false },
      { id: 'd' },
      { id: 'e' },
    ] as never);
    expect(r.status()).toMatchObject({ panic: true, available: 2 });
    const seen = new Set(Array.from({ length: 10 }, () => r.pick().instance.id));
    expect(seen).toEqual(new Set(['a', 'b', 'c', 'd', 'e']));
  });

  it('avoids unhealthy (draining) instances above the panic threshold', () => {
    const { registry, r } = setup();
    registry.push('orders', [{ id: 'a', healthy: false }, { id: 'b' }, { id: 'c' }] as never);
    const seen = new Set(Array.from({ length: 10 }, () => r.pick().instance.id));
    expect(seen).toEqual(new Set(['b', 'c']));
  });

  it('answers NO_INSTANCE_AVAILABLE when nothing is healthy and panic is off', () => {
    const { registry, r } = setup({ panicThreshold: 0 });
    registry.push('orders', [{ id: 'a', healthy: false }] as never);
    const error = caught(() => r.pick());
    expect(isDiscoveryError(error, 'NO_INSTANCE_AVAILABLE') && error.retryAfterMs).toBe(1000);
  });

  it('prefers its own zone while enough of it is available', () => {
    const { registry, r } = setup({ zone: 'a' });
    registry.push('orders', [
      { id: 'a1', zone: 'a' },
      { id: 'a2', zone: 'a' },
      { id: 'b1', zone: 'b' },
    ]);
    const seen = new Set(Array.from({ length: 10 }, () => r.pick().instance.id));
    expect(seen).toEqual(new Set(['a1', 'a2']));
    registry.push('orders', [
      { id: 'a1', zone: 'a', healthy: false },
      { id: 'a2', zone: 'a', healthy: false },
      { id: 'a3', zone: 'a' },
      { id: 'b1', zone: 'b' },
      { id: 'b2', zone: 'b' },
    ] as never);
    const spread = new Set(Array.from({ length: 10 }, () => r.pick().instance.id));
    expect(spread).toEqual(new Set(['a3', 'b1', 'b2']));
  });

  it('avoids the excluded endpoint (a retry goes elsewhere)', () => {
    const { registry, r } = setup();
    registry.push('orders', fleet(3));
    const first = r.pick();
    for (let i = 0; i < 10; i++) {
      expect(r.pick({ exclude: first.endpoint }).instance.id).not.toBe(first.instance.id);
    }
  });

  it('ramps a new instance up during slow start', () => {
    const { clock, registry, r } = setup({ slowStartMs: 10_000, slowStartMinWeight: 0.1 });
    registry.push('orders', fleet(1));
    registry.push('orders', fleet(2)); // i1 joins after the first list
    const share = () => {
      let count = 0;
      for (let i = 0; i < 2000; i++) {
        const pick = r.pick();
        if (pick.instance.id === 'i1') count++;
        pick.done('success');
      }
      return count / 2000;
    };
    expect(share()).toBeLessThan(0.2);
    clock.advance(5000);
    const half = share();
    expect(half).toBeGreaterThan(0.25);
    expect(half).toBeLessThan(0.45);
    clock.advance(5000);
    expect(share()).toBeGreaterThan(0.45);
  });

  it('refuses bad options with INVALID_OPTIONS naming the option', () => {
    const registry = new ManualRegistry();
    const bad = [
      [{ registry: {}, service: 'orders' }, 'registry'],
      [{ registry, service: '' }, 'service'],
      [{ registry, service: 'orders', maxStaleMs: -1 }, 'maxStaleMs'],
      [{ registry, service: 'orders', panicThreshold: 2 }, 'panicThreshold'],
      [{ registry, service: 'orders', balancer: () => 0 }, 'balancer'],
      [
        { registry, service: 'orders', ejection: { consecutiveFailures: 0 } },
        'ejection.consecutiveFailures',
      ],
      [{ registry, service: 'orders', maxStaelMs: 5 }, 'maxStaelMs'],
    ] as const;
    for (const [options, option] of bad) {
      const error = caught(() => resolver(options as never));
      if (!isDiscoveryError(error, 'INVALID_OPTIONS')) return expect.unreachable(option);
      expectTypeOf(error).toEqualTypeOf<InvalidOptionsError>();
      expect(error).toBeInstanceOf(InvalidOptionsError);
      expect(error.option).toBe(option);
    }
  });

  it('close() stops watching, rejects waiters and is idempotent', async () => {
    const { registry, r } = setup();
    const ready = r.ready();
    await r.close();
    await r.close();
    await expect(ready).rejects.toSatisfy((e) => isDiscoveryError(e, 'NO_INSTANCE_AVAILABLE'));
    expect(registry.watchers.size).toBe(0);
    expect(r.status().state).toBe('closed');
  });
});
