import { o } from '@ballast/kernel';
import type { Balancer, PickContext } from './balancer.ts';
import type { Endpoint, EndpointState } from './endpoint.ts';
import { parse } from './options.ts';
import { pickOfTwo } from './two-choices.ts';

/** Options of {@link p2cPeakEwma}. */
export interface P2cPeakEwmaOptions {
  /**
   * Time constant of the moving average, in ms: a sample's weight falls to 1/e after this long,
   * and an idle endpoint's estimate decays toward zero at the same pace, so a slow instance is
   * probed again. Default `1000` (see the README for the measurement behind it; Finagle and
   * Linkerd use 10 s).
   */
  decayMs?: number | undefined;
  /**
   * Latency assumed for an endpoint before its first answer, in ms. Default: none — such an
   * endpoint is scored as if it were as fast as the one it is compared with, and its estimate
   * starts from its first real sample (Finagle and Linkerd seed 30 ms or so).
   */
  defaultRttMs?: number | undefined;
  /**
   * Latency recorded for a failed request (5xx, connection error), in ms, when it is larger than
   * both the measured latency and the instance's current estimate: failures often fail fast, and a
   * fast failure must not look attractive. Failures in a row do not add up (the estimate stays at
   * most this, or the slowest answer seen), so an instance that recovers is probed again after a
   * bounded time. Set it above your slowest normal answer. Default `1000`.
   */
  failurePenaltyMs?: number | undefined;
}

const schema = o.object({
  decayMs: o.number({ gt: 0, max: 3_600_000 }).default(1000),
  defaultRttMs: o.number({ min: 0, max: 3_600_000 }).optional(),
  failurePenaltyMs: o.number({ min: 0, max: 3_600_000 }).default(1000),
});

/**
 * Power of two choices on peak-EWMA latency × (outstanding + 1), as Finagle and Linkerd balance:
 * of two random endpoints, the one expected to answer sooner. A slower answer raises an
 * endpoint's estimate at once (peak), faster ones lower it over `decayMs`, and an endpoint not
 * picked for a while decays toward zero and gets a probe. The default balancer.
 */
export function p2cPeakEwma(options?: P2cPeakEwmaOptions): Balancer {
  const { decayMs, defaultRttMs, failurePenaltyMs } = parse(schema, options, 'p2cPeakEwma()');
  const inverseDecay = 1 / decayMs;

  // The estimate now: decayed toward zero for the time since the last sample (not stored).
  const costNow = (state: EndpointState, now: number): number => {
    const cost = state.cost;
    if (Number.isNaN(cost)) return Number.NaN;
    const elapsed = now - state.costAt;
    return elapsed > 0 ? cost * Math.exp(-elapsed * inverseDecay) : cost;
  };

  const score = (endpoint: Endpoint, other: Endpoint, context: PickContext): number => {
    const state = endpoint as EndpointState;
    let cost = costNow(state, context.now);
    if (Number.isNaN(cost)) {
      // No sample yet: the default if one is configured, else as fast as the other candidate.
      cost = defaultRttMs ?? costNow(other as EndpointState, context.now);
      if (Number.isNaN(cost)) cost = 1;
    }
    // Requests in flight for longer than the estimate say the instance is at least that slow
    // now: an idle instance whose estimate has decayed to ~0 must not win while a request it was
    // just sent (a probe, the first attempt of a hedge) is still waiting.
    if (state.outstanding > 0) {
      const age = context.now - state.outstandingStartSum / state.outstanding;
      if (age > cost) cost = age;
    }
    // A tiny floor keeps (outstanding + 1) meaningful when estimates have decayed to ~0.
    return ((cost + 1e-3) * (state.outstanding + 1)) / context.warmth(endpoint);
  };

  return {
    name: 'p2c-peak-ewma',
    pick(endpoints, context) {
      return pickOfTwo(endpoints, context, score);
    },
    observe(endpoint, latencyMs, outcome, context) {
      const state = endpoint as EndpointState;
      const now = context.now;
      if (outcome === 'cancelled') {
        // The caller gave up (a hedge's losing attempt, a timeout): the answer would have taken
        // at least this long. Only a wait longer than the estimate tells something — without it
        // an instance that is always abandoned would never look slow.
        const current = costNow(state, now);
        if (latencyMs > 0 && !(latencyMs <= current)) {
          state.cost = latencyMs;
          state.costAt = now;
        }
        return;
      }
      let sample = latencyMs;
      if (outcome !== 'success') {
        // Never below the penalty nor the current estimate, and never compounding: doubling the
        // estimate on each failure (as this once did) made it astronomically large after an
        // outage — 1e90 ms after a few hundred failures — and starved the recovered instance for
        // many minutes, whatever the decay.
        const current = costNow(state, now);
        sample = Math.max(latencyMs, failurePenaltyMs, Number.isNaN(current) ? 0 : current);
      }
      let cost = state.cost;
      if (Number.isNaN(cost)) {
        if (defaultRttMs === undefined) {
          state.cost = sample;
          state.costAt = now;
          return;
        }
        cost = defaultRttMs;
        state.costAt = now;
      }
      if (sample > cost) {
        state.cost = sample;
      } else {
        const elapsed = Math.max(0, now - state.costAt);
        const weight = Math.exp(-elapsed * inverseDecay);
        state.cost = cost * weight + sample * (1 - weight);
      }
      state.costAt = now;
    },
  };
}
