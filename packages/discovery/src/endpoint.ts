import type { Instance } from './registry.ts';

/**
 * One instance as a balancer sees it: the registry's record plus what this client knows about it
 * (requests in flight, latency, ejection). Read-only for balancers; the resolver updates it.
 */
export interface Endpoint {
  /** The instance this endpoint sends to. */
  readonly instance: Instance;
  /** Requests sent to the instance that have not finished yet. */
  readonly outstanding: number;
  /**
   * Smoothed latency of this instance in milliseconds (peak-sensitive: a slower request raises it
   * at once, faster ones lower it gradually), or `undefined` before its first answer.
   */
  readonly latencyMs: number | undefined;
  /** `true` while outlier ejection keeps the instance out of rotation. */
  readonly ejected: boolean;
}

/** How a request to an endpoint ended, as the balancer and outlier ejection count it. */
export type Outcome =
  /** Any answer below 500 (a 4xx is the caller's problem, not the instance's). */
  | 'success'
  /** An answer of 500 or above. */
  | 'server-error'
  /** No answer: the connection failed, was reset, or timed out before a response. */
  | 'connect-error'
  /** The caller gave up (abort): counted for nothing but the outstanding requests. */
  | 'cancelled';

/** The mutable state behind an {@link Endpoint}; internal to the package. */
export class EndpointState implements Endpoint {
  instance: Instance;
  outstanding = 0;
  /** Sum of the start times of the outstanding requests (their mean age, in O(1)). */
  outstandingStartSum = 0;
  /** Peak-EWMA cost in ms; NaN until the first sample. */
  cost = Number.NaN;
  /** Clock time of the last cost update. */
  costAt = 0;
  /** Clock time the endpoint appeared (for slow start), or -Infinity for the initial list. */
  readonly addedAt: number;
  /** Slow start ends at this time (0 = not warming). */
  warmUntil = 0;
  consecutiveFailures = 0;
  timesEjected = 0;
  /** Ejected until this clock time (0 = not ejected). */
  ejectedUntil = 0;
  /** When the last ejection ended, to let the ejection multiplier decay. */
  unejectedAt = 0;
  /** Requests that ended in each outcome since the endpoint appeared (for `snapshot()`). */
  successes = 0;
  serverErrors = 0;
  connectErrors = 0;
  cancelled = 0;

  constructor(instance: Instance, addedAt: number) {
    this.instance = instance;
    this.addedAt = addedAt;
  }

  get latencyMs(): number | undefined {
    return Number.isNaN(this.cost) ? undefined : this.cost;
  }

  get ejected(): boolean {
    return this.ejectedUntil !== 0;
  }
}
