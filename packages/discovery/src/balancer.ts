import type { Endpoint, EndpointState, Outcome } from './endpoint.ts';

/**
 * Chooses the endpoint for the next request. Built-ins: `p2cPeakEwma()` (the default),
 * `leastOutstanding()`, `roundRobin()`, `random()`, `weighted()`. A balancer may be shared by
 * every service of a dispatcher; per-endpoint state lives on the endpoints.
 */
export interface Balancer {
  /** Name for telemetry and `status()`, e.g. `'p2c-peak-ewma'`. */
  readonly name: string;
  /**
   * Picks one of `endpoints` (never empty, already filtered for health, ejection and zone).
   * Must not return `context.exclude` unless it is the only endpoint. Should be O(1).
   */
  pick(endpoints: readonly Endpoint[], context: PickContext): Endpoint;
  /** Called when a request to `endpoint` finished, with its latency, before `outstanding` drops. */
  observe?(endpoint: Endpoint, latencyMs: number, outcome: Outcome, context: PickContext): void;
}

/** What a balancer is told about the pick it makes. */
export interface PickContext {
  /** The resolver clock's current time, in milliseconds. */
  readonly now: number;
  /** An endpoint already tried for this request (a retry goes elsewhere). */
  readonly exclude: Endpoint | undefined;
  /**
   * Share of normal traffic the endpoint should get now, in (0, 1]: below 1 while it warms up
   * after joining (slow start), else 1.
   */
  warmth(endpoint: Endpoint): number;
}

/** A uniformly random index in `[0, n)`. */
export function randomIndex(n: number): number {
  return Math.floor(Math.random() * n);
}

/**
 * A random endpoint other than `exclude` (when there is another): a few draws, then a scan — the
 * scan only runs when a retry's exclusion keeps being drawn, which is rare for n > 2.
 */
export function randomOther(
  endpoints: readonly Endpoint[],
  exclude: Endpoint | undefined,
): Endpoint {
  const n = endpoints.length;
  for (let i = 0; i < 4; i++) {
    const candidate = endpoints[randomIndex(n)]!;
    if (candidate !== exclude) return candidate;
  }
  return firstOther(endpoints, exclude);
}

/** The first endpoint that is not `exclude`, else `exclude` itself. */
export function firstOther(
  endpoints: readonly Endpoint[],
  exclude: Endpoint | undefined,
): Endpoint {
  for (const endpoint of endpoints) if (endpoint !== exclude) return endpoint;
  return endpoints[0]!;
}

/**
 * Slow start for the balancers without a score: keep `candidate` with probability `warmth`, else
 * let the caller draw again (bounded, so a pick stays O(1)).
 */
export function acceptsWarmth(candidate: Endpoint, context: PickContext): boolean {
  const warmth = context.warmth(candidate);
  return warmth >= 1 || Math.random() < warmth;
}

/** Internal state access for the built-in balancers. */
export type State = EndpointState;
