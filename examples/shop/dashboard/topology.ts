/**
 * Turns the services' balancer snapshots (`GET /internal/balancer` → `dispatcher.snapshot()` of
 * `@ballast/discovery/undici`) into what the dashboard shows:
 *
 * - per instance, as its callers see it: zone, requests in flight (summed over callers), each
 *   caller's peak-EWMA estimate, and which callers have ejected it and for how long;
 * - per call edge (caller service → dependency), requests per second and error rate over the last
 *   few seconds, from the difference of the outcome counters between two collections.
 */
import type { EndpointSnapshot, ResolverSnapshot } from '@ballast/discovery';

/** One instance's balancer view, as the dashboard collected it. */
export interface BalancerTotals {
  /** The calling instance's id. */
  caller: string;
  /** The calling instance's service. */
  callerService: string;
  services: readonly ResolverSnapshot[];
}

export interface CallerView {
  caller: string;
  outstanding: number;
  latencyMs: number | undefined;
  latencyAgeMs: number | undefined;
  ejectedForMs: number;
  timesEjected: number;
  successes: number;
  errors: number;
}

export interface InstanceLoad {
  zone: string | undefined;
  /** Requests in flight to the instance, from every caller. */
  inFlight: number;
  /** The freshest peak-EWMA estimate any caller holds, in ms. */
  ewmaMs: number | undefined;
  /** Callers whose outlier ejection keeps the instance out, with the time left. */
  ejectedBy: { caller: string; forMs: number }[];
  callers: CallerView[];
}

const errorsOf = (e: EndpointSnapshot) => e.serverErrors + e.connectErrors;

/** Per instance id (the registry id: each shop instance registers with its instance id). */
export function instanceLoad(views: readonly BalancerTotals[]): Map<string, InstanceLoad> {
  const load = new Map<string, InstanceLoad>();
  for (const view of views)
    for (const service of view.services)
      for (const endpoint of service.endpoints) {
        const id = endpoint.meta.instance ?? endpoint.id;
        let entry = load.get(id);
        if (!entry) {
          entry = {
            zone: endpoint.zone,
            inFlight: 0,
            ewmaMs: undefined,
            ejectedBy: [],
            callers: [],
          };
          load.set(id, entry);
        }
        entry.inFlight += endpoint.outstanding;
        if (endpoint.ejected)
          entry.ejectedBy.push({ caller: view.caller, forMs: endpoint.ejectedForMs });
        entry.callers.push({
          caller: view.caller,
          outstanding: endpoint.outstanding,
          latencyMs: endpoint.latencyMs,
          latencyAgeMs: endpoint.latencyAgeMs,
          ejectedForMs: endpoint.ejectedForMs,
          timesEjected: endpoint.timesEjected,
          successes: endpoint.successes,
          errors: errorsOf(endpoint),
        });
      }
  for (const entry of load.values()) {
    const fresh = entry.callers
      .filter((c) => c.latencyMs !== undefined)
      .sort((a, b) => (a.latencyAgeMs ?? 0) - (b.latencyAgeMs ?? 0))[0];
    entry.ewmaMs = fresh?.latencyMs;
  }
  return load;
}

export interface EdgeRate {
  from: string;
  to: string;
  /** Requests per second that ended (any outcome but cancelled) over the window. */
  rate: number;
  /** Share of them answered with 5xx or without an answer, 0–1 (0 without requests). */
  errorRate: number;
  /** Requests counted in the window. */
  requests: number;
}

/**
 * Request rate and error rate per call edge. Counters are per (caller instance, dependency
 * instance) and restart from 0 with either process: a counter lower than the last one counts
 * from 0.
 */
export function callEdges(windowMs = 5000) {
  const last = new Map<string, { calls: number; errors: number }>();
  const known = new Set<string>();
  const samples: { at: number; edge: string; calls: number; errors: number }[] = [];
  let ticks = 0;
  let firstAt: number | undefined;
  return {
    add(at: number, views: readonly BalancerTotals[]) {
      firstAt ??= at;
      ticks++;
      const delta = new Map<string, { calls: number; errors: number }>();
      for (const view of views)
        for (const service of view.services) {
          const edge = `${view.callerService}→${service.service}`;
          known.add(edge);
          for (const endpoint of service.endpoints) {
            const key = `${view.caller}|${service.service}|${endpoint.id}`;
            const now = {
              calls: endpoint.successes + errorsOf(endpoint),
              errors: errorsOf(endpoint),
            };
            const before = last.get(key);
            last.set(key, now);
            // First sight: before the first few collections the counts are history; later they
            // belong to a caller or an instance that just started.
            const base = before ?? (ticks > 2 ? { calls: 0, errors: 0 } : now);
            const calls = now.calls >= base.calls ? now.calls - base.calls : now.calls;
            const errors = now.errors >= base.errors ? now.errors - base.errors : now.errors;
            const sum = delta.get(edge) ?? { calls: 0, errors: 0 };
            sum.calls += calls;
            sum.errors += errors;
            delta.set(edge, sum);
          }
        }
      for (const [edge, { calls, errors }] of delta) samples.push({ at, edge, calls, errors });
      while (samples.length > 0 && samples[0]!.at < at - windowMs) samples.shift();
    },
    rates(at: number): EdgeRate[] {
      const seconds = Math.max(0.5, Math.min(windowMs, at - (firstAt ?? at)) / 1000);
      const sums = new Map<string, { calls: number; errors: number }>();
      for (const edge of known) sums.set(edge, { calls: 0, errors: 0 });
      for (const sample of samples) {
        if (sample.at < at - windowMs) continue;
        const sum = sums.get(sample.edge)!;
        sum.calls += sample.calls;
        sum.errors += sample.errors;
      }
      return [...sums]
        .map(([edge, { calls, errors }]) => {
          const [from, to] = edge.split('→') as [string, string];
          return {
            from,
            to,
            rate: Math.round((calls / seconds) * 10) / 10,
            errorRate: calls === 0 ? 0 : Math.round((errors / calls) * 1000) / 1000,
            requests: calls,
          };
        })
        .sort((a, b) => a.from.localeCompare(b.from) || a.to.localeCompare(b.to));
    },
  };
}
