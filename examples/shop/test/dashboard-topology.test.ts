import type { EndpointSnapshot, ResolverSnapshot } from '@ballast/discovery';
import { describe, expect, it } from 'vitest';
import { type BalancerTotals, callEdges, instanceLoad } from '../dashboard/topology.ts';

const endpoint = (id: string, fields: Partial<EndpointSnapshot> = {}): EndpointSnapshot => ({
  id,
  address: '127.0.0.1',
  port: 1,
  zone: 'zone-a',
  healthy: true,
  meta: { instance: id },
  outstanding: 0,
  latencyMs: undefined,
  latencyAgeMs: undefined,
  ejected: false,
  ejectedUntil: undefined,
  ejectedForMs: 0,
  timesEjected: 0,
  consecutiveFailures: 0,
  successes: 0,
  serverErrors: 0,
  connectErrors: 0,
  cancelled: 0,
  ...fields,
});

const service = (name: string, endpoints: EndpointSnapshot[]): ResolverSnapshot => ({
  service: name,
  state: 'fresh',
  at: 0,
  balancer: 'p2c-peak-ewma',
  zone: undefined,
  available: endpoints.length,
  ejected: 0,
  panic: false,
  staleForMs: 0,
  lastError: undefined,
  endpoints,
});

const view = (caller: string, services: ResolverSnapshot[]): BalancerTotals => ({
  caller,
  callerService: caller.replace(/-\d+$/, ''),
  services,
});

describe('instanceLoad: an instance as its callers see it', () => {
  it('adds the requests in flight, keeps the freshest estimate, lists who ejects it', () => {
    const load = instanceLoad([
      view('orders-1', [
        service('inventory', [
          endpoint('inventory-1', { outstanding: 2, latencyMs: 40, latencyAgeMs: 900 }),
        ]),
      ]),
      view('orders-2', [
        service('inventory', [
          endpoint('inventory-1', {
            outstanding: 1,
            latencyMs: 12,
            latencyAgeMs: 100,
            ejected: true,
            ejectedForMs: 4200,
            connectErrors: 3,
          }),
        ]),
      ]),
    ]);
    const inventory1 = load.get('inventory-1')!;
    expect(inventory1).toMatchObject({
      zone: 'zone-a',
      inFlight: 3,
      ewmaMs: 12,
      ejectedBy: [{ caller: 'orders-2', forMs: 4200 }],
    });
    expect(inventory1.callers.map((c) => [c.caller, c.errors])).toEqual([
      ['orders-1', 0],
      ['orders-2', 3],
    ]);
  });
});

describe('callEdges: rate and error rate per call from counter differences', () => {
  it('counts what happened between collections, not the history before the first', () => {
    const edges = callEdges(5000);
    const at = (t: number, ok: number, failed: number) =>
      edges.add(t, [
        view('orders-1', [
          service('payments', [endpoint('payments-1', { successes: ok, serverErrors: failed })]),
        ]),
      ]);
    at(0, 100, 0);
    at(500, 100, 0);
    at(1000, 100, 0);
    expect(edges.rates(1000)).toEqual([
      { from: 'orders', to: 'payments', rate: 0, errorRate: 0, requests: 0 },
    ]);
    at(2000, 104, 1);
    at(3000, 108, 4);
    const [edge] = edges.rates(3000);
    expect(edge).toMatchObject({ requests: 12, errorRate: 0.333 });
    expect(edge!.rate).toBe(4); // 12 requests over the 3 s the meter has run
    // outside the window: forgotten
    at(9000, 108, 4);
    expect(edges.rates(9000)[0]).toMatchObject({ requests: 0, rate: 0 });
  });

  it('counts a restarted caller from zero, and a caller that appears later in full', () => {
    const edges = callEdges(5000);
    const at = (t: number, views: BalancerTotals[]) => edges.add(t, views);
    const orders = (caller: string, ok: number) =>
      view(caller, [service('inventory', [endpoint('inventory-1', { successes: ok })])]);
    at(0, [orders('orders-1', 50)]);
    at(500, [orders('orders-1', 50)]);
    at(1000, [orders('orders-1', 50)]);
    // orders-1 restarted (its counters begin again) and orders-2 appeared with 5 calls made
    at(1500, [orders('orders-1', 3), orders('orders-2', 5)]);
    expect(edges.rates(1500)[0]).toMatchObject({ from: 'orders', to: 'inventory', requests: 8 });
  });
});
