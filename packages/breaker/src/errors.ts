import { BallastError, errorGuard, invalidOptionsError } from '@ballast/kernel';

/** Stable codes of every error this package throws. */
export type BreakerErrorCode =
  | 'INVALID_OPTIONS'
  | 'BREAKER_OPEN'
  | 'BREAKER_ISOLATED'
  | 'INVALID_SNAPSHOT'
  | 'TIMEOUT'
  | 'BULKHEAD_FULL'
  | 'RATE_LIMITED'
  | 'RETRY_BUDGET_EXHAUSTED'
  | 'ABORTED'
  | 'POLICY_CLOSED';

/**
 * Base class of every error thrown by `@ballast/breaker`, with a stable `code`. Check one with
 * {@link isBreakerError} (it narrows to the subclass of the code) or `instanceof`: both work when
 * two copies of the package are installed (two versions, or its ESM and CJS builds).
 */
export class BreakerError<C extends BreakerErrorCode = BreakerErrorCode> extends BallastError<C> {
  /** Brand shared by every copy of this package's errors. */
  static override readonly brand: symbol = Symbol.for('@ballast/breaker.error');
}

/** An option passed to a factory of this package is missing, of the wrong type or out of range. */
export class InvalidOptionsError extends invalidOptionsError(BreakerError) {}

/**
 * Where an HTTP exchange was when the undici interceptor's `timeoutMs` passed: still waiting for a
 * connection (queued behind others, or connecting), waiting for the response headers, or reading
 * the response body.
 */
export type TimeoutPhase = 'connection' | 'headers' | 'body';

const TIMEOUT_WHAT: Record<TimeoutPhase, string> = {
  connection: 'The request got no connection (it was queued or still connecting)',
  headers: 'The request got no response headers',
  body: 'The response body did not end',
};

/**
 * The work did not finish within `timeoutMs` (of the `timeout` policy, or of one attempt of the
 * undici interceptor, then with the `phase` it was in).
 */
export class TimeoutError extends BreakerError<'TIMEOUT'> {
  /** The code this class stands for. */
  static override readonly code = 'TIMEOUT';
  /** The deadline that passed, in milliseconds. */
  readonly timeoutMs: number;
  /** For an HTTP attempt of the undici interceptor: what it was still waiting for. */
  readonly phase: TimeoutPhase | undefined;

  constructor(timeoutMs: number, options?: { cause?: unknown; phase?: TimeoutPhase | undefined }) {
    const phase = options?.phase;
    super(
      'TIMEOUT',
      phase === undefined
        ? `The call did not finish within ${timeoutMs} ms; raise timeoutMs or make the work faster (its AbortSignal was aborted).`
        : `${TIMEOUT_WHAT[phase]} within ${timeoutMs} ms of being dispatched; raise timeoutMs or find out why the upstream is slow.`,
      options?.cause === undefined ? undefined : { cause: options.cause },
    );
    this.timeoutMs = timeoutMs;
    this.phase = phase;
  }
}

/** The `bulkhead` had every slot busy and its queue full (or the caller waited longer than `queueTimeoutMs`). */
export class BulkheadFullError extends BreakerError<'BULKHEAD_FULL'> {
  /** The code this class stands for. */
  static override readonly code = 'BULKHEAD_FULL';
  /** `maxConcurrent` of the bulkhead that refused the call. */
  readonly maxConcurrent: number;
  /** `maxQueue` of the bulkhead that refused the call. */
  readonly maxQueue: number;

  constructor(maxConcurrent: number, maxQueue: number, reason: 'full' | 'queue-timeout') {
    super(
      'BULKHEAD_FULL',
      reason === 'full'
        ? `The bulkhead is full (${maxConcurrent} running, ${maxQueue} queued); shed load, retry later or raise maxConcurrent/maxQueue.`
        : `The call waited longer than queueTimeoutMs in the bulkhead queue; shed load, retry later or raise maxConcurrent.`,
    );
    this.maxConcurrent = maxConcurrent;
    this.maxQueue = maxQueue;
  }
}

/** The `rateLimiter` had no token for the call. */
export class RateLimitedError extends BreakerError<'RATE_LIMITED'> {
  /** The code this class stands for. */
  static override readonly code = 'RATE_LIMITED';
  /** How long until a token is available, in milliseconds. */
  readonly retryAfterMs: number;

  constructor(retryAfterMs: number) {
    super(
      'RATE_LIMITED',
      `The rate limit is reached; try again in ${Math.ceil(retryAfterMs)} ms or raise the limiter's ratePerSecond/burst.`,
    );
    this.retryAfterMs = retryAfterMs;
  }
}

/**
 * The `retry` policy wanted to retry but its retry budget (shared by every call through the
 * policy) was spent. `cause` is the last error. (A result that asked for a retry is returned as is.)
 */
export class RetryBudgetExhaustedError extends BreakerError<'RETRY_BUDGET_EXHAUSTED'> {
  /** The code this class stands for. */
  static override readonly code = 'RETRY_BUDGET_EXHAUSTED';
  /** Attempts made before the budget stopped the retries. */
  readonly attempts: number;

  constructor(attempts: number, cause: unknown) {
    super(
      'RETRY_BUDGET_EXHAUSTED',
      `Not retried after ${attempts} attempt(s): the retry budget is spent, the dependency is failing for many callers; see cause for the last error, or raise budget.ratio/minPerSecond.`,
      { cause },
    );
    this.attempts = attempts;
  }
}

/** The caller's `AbortSignal` aborted the call (its reason is the `cause`). */
export class AbortedError extends BreakerError<'ABORTED'> {
  /** The code this class stands for. */
  static override readonly code = 'ABORTED';
  constructor(cause?: unknown) {
    super('ABORTED', 'The call was aborted by its AbortSignal; see cause for the reason.', {
      cause,
    });
  }
}

/** Names of the circuit breaker's states, as reported by `breaker.state` and on errors. */
export type BreakerStateName =
  | 'CLOSED'
  | 'OPEN'
  | 'HALF_OPEN'
  | 'FORCED_OPEN'
  | 'DISABLED'
  | 'METRICS_ONLY';

/**
 * The circuit breaker refused the call without running it: it is OPEN, FORCED_OPEN, or HALF_OPEN
 * with every trial slot taken. Retry after `retryAfterMs`, or serve a fallback.
 */
export class BreakerOpenError extends BreakerError<'BREAKER_OPEN'> {
  /** The code this class stands for. */
  static override readonly code = 'BREAKER_OPEN';
  /** The breaker's state when it refused the call. */
  readonly state: BreakerStateName;
  /**
   * Milliseconds until the breaker may admit a call again: the rest of the open time when OPEN; in
   * HALF_OPEN the rest of `maxWaitInHalfOpenMs` if set, else the open time the breaker would use
   * if the trials fail. `undefined` when FORCED_OPEN (only a manual transition ends it).
   */
  readonly retryAfterMs: number | undefined;
  /** Name of the breaker (its registry key for keyed breakers). */
  readonly breaker: string;

  constructor(breaker: string, state: BreakerStateName, retryAfterMs: number | undefined) {
    super(
      'BREAKER_OPEN',
      state === 'FORCED_OPEN'
        ? `Circuit breaker "${breaker}" is FORCED_OPEN and refuses every call until transitionTo() moves it; serve a fallback.`
        : state === 'HALF_OPEN'
          ? `Circuit breaker "${breaker}" is HALF_OPEN and every trial slot is taken; retry in ${Math.ceil(retryAfterMs ?? 0)} ms or serve a fallback.`
          : `Circuit breaker "${breaker}" is OPEN after too many failed or slow calls; retry in ${Math.ceil(retryAfterMs ?? 0)} ms or serve a fallback.`,
    );
    this.breaker = breaker;
    this.state = state;
    this.retryAfterMs = retryAfterMs;
  }
}

/** The circuit breaker is held open by `isolate()`; dispose every isolation handle to let calls through. */
export class BreakerIsolatedError extends BreakerError<'BREAKER_ISOLATED'> {
  /** The code this class stands for. */
  static override readonly code = 'BREAKER_ISOLATED';
  /** Name of the breaker (its registry key for keyed breakers). */
  readonly breaker: string;

  constructor(breaker: string) {
    super(
      'BREAKER_ISOLATED',
      `Circuit breaker "${breaker}" is isolated by isolate(); dispose its handle(s) to let calls through, or serve a fallback.`,
    );
    this.breaker = breaker;
  }
}

/** `hydrate()` was given something that is not a breaker snapshot from `toJSON()`. */
export class InvalidSnapshotError extends BreakerError<'INVALID_SNAPSHOT'> {
  /** The code this class stands for. */
  static override readonly code = 'INVALID_SNAPSHOT';
  /** Dotted path of the offending field, e.g. `window.outcomes.3`. */
  readonly field: string;

  constructor(field: string, message: string) {
    super('INVALID_SNAPSHOT', message);
    this.field = field;
  }
}

/** Which policy refused work because it was closed. */
export type ClosedPolicyName = 'circuitBreaker' | 'bulkhead' | 'timeout' | 'breakerRegistry';

/**
 * The policy was closed (`close()` or `await using`) and refuses new work; create a new one, or
 * stop sending work before closing it.
 */
export class PolicyClosedError extends BreakerError<'POLICY_CLOSED'> {
  /** The code this class stands for. */
  static override readonly code = 'POLICY_CLOSED';
  /** The kind of policy that was closed. */
  readonly policy: ClosedPolicyName;

  constructor(policy: ClosedPolicyName, name?: string) {
    super(
      'POLICY_CLOSED',
      `The ${policy}${name === undefined ? '' : ` "${name}"`} is closed and refuses new work; create a new one, or stop sending work before close().`,
    );
    this.policy = policy;
  }
}

/** Every error class of the package, by code: what {@link isBreakerError} narrows to. */
export type BreakerErrorMap = {
  INVALID_OPTIONS: InvalidOptionsError;
  BREAKER_OPEN: BreakerOpenError;
  BREAKER_ISOLATED: BreakerIsolatedError;
  INVALID_SNAPSHOT: InvalidSnapshotError;
  TIMEOUT: TimeoutError;
  BULKHEAD_FULL: BulkheadFullError;
  RATE_LIMITED: RateLimitedError;
  RETRY_BUDGET_EXHAUSTED: RetryBudgetExhaustedError;
  ABORTED: AbortedError;
  POLICY_CLOSED: PolicyClosedError;
};

/**
 * True when `error` was thrown by any copy of `@ballast/breaker`; with a `code`, true only for that
 * code, and `error` is narrowed to its class: `isBreakerError(e, 'TIMEOUT') && e.timeoutMs`.
 */
export const isBreakerError = errorGuard<BreakerErrorMap>(BreakerError);
