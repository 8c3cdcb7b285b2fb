import { o } from '@ballast/kernel';
import type { EndpointState, Outcome } from './endpoint.ts';

/** Passive outlier ejection (Envoy's `outlier_detection`, with its defaults). */
export interface OutlierEjectionOptions {
  /** Consecutive failures (5xx answers, connection errors) that eject an instance. Default `5`. */
  consecutiveFailures?: number | undefined;
  /** First ejection's length, in ms; the n-th ejection lasts n times this. Default `30000`. */
  baseEjectionMs?: number | undefined;
  /** Longest ejection, in ms. Default `300000`. */
  maxEjectionMs?: number | undefined;
  /**
   * Most instances ejected at once, in percent of the service's instances; one may always be
   * ejected. Default `10`.
   */
  maxEjectionPercent?: number | undefined;
  /**
   * Every period this long (ms) an instance spends without being ejected takes one off its
   * ejection count, so that an old incident does not lengthen a new ejection. Default `10000`.
   */
  decayIntervalMs?: number | undefined;
}

/** The parsed options, every field set. */
export type EjectionConfig = Required<{ [K in keyof OutlierEjectionOptions]: number }>;

/** Schema of {@link OutlierEjectionOptions}. */
export const ejectionSchema = o.object({
  consecutiveFailures: o.integer({ min: 1, max: 1_000_000 }).default(5),
  baseEjectionMs: o.number({ min: 0, max: 86_400_000 }).default(30_000),
  maxEjectionMs: o.number({ min: 0, max: 86_400_000 }).default(300_000),
  maxEjectionPercent: o.number({ min: 0, max: 100 }).default(10),
  decayIntervalMs: o.number({ gt: 0, max: 86_400_000 }).default(10_000),
});

/**
 * Counts one finished request; returns `true` when the endpoint should now be ejected (the
 * caller checks the ejection cap and calls {@link eject}).
 */
export function countOutcome(
  state: EndpointState,
  outcome: Outcome,
  config: EjectionConfig,
): boolean {
  if (outcome === 'success') {
    state.consecutiveFailures = 0;
    return false;
  }
  if (outcome === 'cancelled') return false;
  state.consecutiveFailures++;
  return state.ejectedUntil === 0 && state.consecutiveFailures >= config.consecutiveFailures;
}

/** Ejects `state` at `now`; returns how long for, in ms. */
export function eject(state: EndpointState, now: number, config: EjectionConfig): number {
  if (state.unejectedAt > 0 && state.timesEjected > 0) {
    const healthyPeriods = Math.floor((now - state.unejectedAt) / config.decayIntervalMs);
    state.timesEjected = Math.max(0, state.timesEjected - healthyPeriods);
  }
  state.timesEjected++;
  const duration = Math.min(
    config.baseEjectionMs * state.timesEjected,
    Math.max(config.baseEjectionMs, config.maxEjectionMs),
  );
  state.ejectedUntil = now + Math.max(duration, 1);
  state.consecutiveFailures = 0;
  return duration;
}

/** Ends an ejection at `now`. */
export function uneject(state: EndpointState, now: number): void {
  state.ejectedUntil = 0;
  state.unejectedAt = now;
  state.consecutiveFailures = 0;
}

/** How many of `total` instances may be ejected at once. */
export function maxEjected(total: number, config: EjectionConfig): number {
  return Math.max(1, Math.floor((total * config.maxEjectionPercent) / 100));
}
