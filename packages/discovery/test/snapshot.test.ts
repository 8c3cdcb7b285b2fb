import { ManualClock } from '@ballast/test-utils';
import { request } from 'undici';
import { afterEach, describe, expect, expectTypeOf, it } from 'vitest';
import {
  type EndpointSnapshot,
  p2cPeakEwma,
  type ResolverSnapshot,
  resolver,
  roundRobin,
  staticRegistry,
} from '../src/index.ts';
import { type DispatcherSnapshot, discoveryDispatcher } from '../src/undici.ts';
import { ManualRegistry } from './support/manual-registry.ts';
import { startInstance } from './support/servers.ts';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe('resolver.snapshot()', () => {
  it('copies every endpoint: address, zone, in flight, latency, counters', async () => {
    const clock = new ManualClock(1_000_000);
    const registry = new ManualRegistry();
    const r = resolver({ registry, service: 'orders', clock, balancer: p2cPeakEwma() });
    cleanups.push(() => r.close());
    registry.push('orders', [
      { id: 'a', zone: 'eu-1', meta: { instance: 'orders-1' } },
      { id: 'b', zone: 'eu-2' },
    ]);
    await r.ready();

    const before = r.snapshot();
    expect(before).toMatchObject({
      service: 'orders',
      state: 'fresh',
      at: 1_000_000,
      balancer: 'p2c-peak-ewma',
      zone: undefined,
      available: 2,
      ejected: 0,
      panic: false,
      lastError: undefined,
    });
    expect(before.endpoints.map((e) => [e.id, e.zone, e.port])).toEqual([
      ['a', 'eu-1', 1000],
      ['b', 'eu-2', 1001],
    ]);
    expect(before.endpoints[0]).toMatchObject({
      address: '127.0.0.1',
      healthy: true,
      meta: { instance: 'orders-1' },
      outstanding: 0,
      latencyMs: undefined,
      latencyAgeMs: undefined,
      ejected: false,
      ejectedUntil: undefined,
      ejectedForMs: 0,
      successes: 0,
      serverErrors: 0,
      connectErrors: 0,
      cancelled: 0,
    });

    const first = r.pick();
    const second = r.pick();
    const third = r.pick();
    const inFlight = r.snapshot().endpoints.reduce((sum, e) => sum + e.outstanding, 0);
    expect(inFlight).toBe(3);
    clock.advance(40);
    first.done('success');
    second.done('server-error');
    third.done('cancelled');
    clock.advance(10);

    const after = r.snapshot();
    const total = (key: keyof EndpointSnapshot) =>
      after.endpoints.reduce((sum, e) => sum + Number(e[key]), 0);
    expect(total('outstanding')).toBe(0);
    expect(total('successes')).toBe(1);
    expect(total('serverErrors')).toBe(1);
    expect(total('cancelled')).toBe(1);
    const measured = after.endpoints.find((e) => e.id === first.instance.id)!;
    expect(measured.latencyMs).toBeGreaterThanOrEqual(40);
    expect(measured.latencyAgeMs).toBe(10);
  });

  it('shows an ejection with its end and the time left, and no longer once it ran out', async () => {
    const clock = new ManualClock(5_000);
    const registry = new ManualRegistry();
    const r = resolver({
      registry,
      service: 'orders',
      clock,
      balancer: roundRobin(),
      ejection: { consecutiveFailures: 2, baseEjectionMs: 3000, maxEjectionPercent: 50 },
    });
    cleanups.push(() => r.close());
    registry.push('orders', [{ id: 'a' }, { id: 'b' }, { id: 'c' }]);
    await r.ready();
    for (let i = 0; i < 6; i++) {
      const pick = r.pick();
      pick.done(pick.instance.id === 'b' ? 'connect-error' : 'success');
    }
    let b = r.snapshot().endpoints.find((e) => e.id === 'b')!;
    expect(b).toMatchObject({
      ejected: true,
      ejectedUntil: 8_000,
      ejectedForMs: 3000,
      timesEjected: 1,
      connectErrors: 2,
    });
    expect(r.snapshot()).toMatchObject({ available: 2, ejected: 1 });

    clock.advance(1000);
    expect(r.snapshot().endpoints.find((e) => e.id === 'b')!.ejectedForMs).toBe(2000);
    clock.advance(2000);
    b = r.snapshot().endpoints.find((e) => e.id === 'b')!;
    expect(b).toMatchObject({ ejected: false, ejectedUntil: undefined, ejectedForMs: 0 });
  });

  it('is plain data: JSON round-trips it, and changing it changes nothing', async () => {
    const registry = new ManualRegistry();
    const r = resolver({ registry, service: 'orders', balancer: roundRobin() });
    cleanups.push(() => r.close());
    registry.push('orders', [{ id: 'a', meta: { v: '1' } }]);
    await r.ready();
    r.pick().done('success');
    const snapshot = r.snapshot();
    expect(JSON.parse(JSON.stringify(snapshot))).toEqual(
      JSON.parse(JSON.stringify({ ...snapshot })),
    );
    (snapshot.endpoints[0]!.meta as Record<string, string>).v = 'changed';
    expect(r.instances()[0]!.meta.v).toBe('1');
    expect(r.snapshot().endpoints[0]!.successes).toBe(1);
  });

  it('reports a stale resolver with its last error', async () => {
    const clock = new ManualClock(0);
    const registry = new ManualRegistry();
    const r = resolver({ registry, service: 'orders', clock, balancer: roundRobin() });
    cleanups.push(() => r.close());
    registry.push('orders', [{ id: 'a' }]);
    await r.ready();
    registry.fail('connection refused');
    clock.advance(700);
    expect(r.snapshot()).toMatchObject({
      state: 'stale',
      staleForMs: 700,
      lastError: expect.stringMatching(/^REGISTRY_UNAVAILABLE: .*connection refused/),
    });
    expect(r.snapshot().endpoints).toHaveLength(1);
  });

  it('is typed as read-only', () => {
    expectTypeOf<ResolverSnapshot['endpoints']>().toEqualTypeOf<readonly EndpointSnapshot[]>();
    expectTypeOf<EndpointSnapshot['zone']>().toEqualTypeOf<string | undefined>();
  });
});

describe('dispatcher.snapshot()', () => {
  it('lists every service it has sent to, with per-instance counters', async () => {
    const ok = await startInstance('ok');
    const failing = await startInstance('failing', { kind: 'status', status: 500 });
    cleanups.push(() => Promise.all([ok.kill(), failing.kill()]));
    const registry = staticRegistry([
      { id: 'ok', service: 'orders', address: '127.0.0.1', port: ok.port, zone: 'z1' },
      { id: 'failing', service: 'orders', address: '127.0.0.1', port: failing.port, zone: 'z2' },
    ]);
    const dispatcher = discoveryDispatcher({
      registry,
      balancer: roundRobin(),
      retries: 0,
      ejection: false,
    });
    cleanups.push(() => dispatcher.close());
    expect(dispatcher.snapshot().services).toEqual([]);

    for (let i = 0; i < 4; i++) {
      const response = await request('http://orders/x', { dispatcher, method: 'POST' });
      await response.body.text();
    }
    const snapshot: DispatcherSnapshot = dispatcher.snapshot();
    expect(snapshot.services.map((s) => s.service)).toEqual(['orders']);
    const byId = Object.fromEntries(snapshot.services[0]!.endpoints.map((e) => [e.id, e]));
    expect(byId.ok).toMatchObject({ zone: 'z1', successes: 2, serverErrors: 0, outstanding: 0 });
    expect(byId.failing).toMatchObject({ zone: 'z2', successes: 0, serverErrors: 2 });
    expect(byId.ok!.latencyMs).toBeUndefined(); // roundRobin keeps no latency estimate
    expect(typeof snapshot.at).toBe('number');
  });

  it('creates no resolver for a service never used', async () => {
    const registry = staticRegistry([]);
    const dispatcher = discoveryDispatcher({ registry });
    cleanups.push(() => dispatcher.close());
    dispatcher.snapshot();
    expect(dispatcher.snapshot().services).toHaveLength(0);
  });
});
