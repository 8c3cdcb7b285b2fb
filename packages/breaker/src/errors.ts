const BRAND = Symbol.for('@ballast/breaker.error');

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
  | 'ABORTED';

/**
 * Base class of every error thrown by `@ballast/breaker`. Carries a stable `code`; use
 * {@link isBreakerError} rather than `instanceof` so that a check still works when two copies of
 * the package are installed.
 */
export class BreakerError extends Error {
  /** Stable machine-readable code, e.g. `BREAKER_OPEN`. */
  readonly code: BreakerErrorCode;
  declare readonly [BRAND]: true;

  constructor(code: BreakerErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
    Object.defineProperty(this, BRAND, { value: true });
  }
}

/** True when `error` was thrown by any copy of `@ballast/breaker`; narrows by `code` when given. */
export function isBreakerError<C extends BreakerErrorCode>(
  error: unknown,
  code?: C,
): error is BreakerError & { code: C } {
  return (
    typeof error === 'object' &&
    error !== null &&
    (error as Record<symbol, unknown>)[BRAND] === true &&
    (code === undefined || (error as BreakerError).code === code)
  );
}

/** An option passed to a factory of this package is missing, of the wrong type or out of range. */
export class InvalidOptionsError extends BreakerError {
  /** Dotted path of the offending option, e.g. `backoff.maxDelayMs`. */
  readonly option: string;

  constructor(option: string, message: string) {
    super('INVALID_OPTIONS', message);
    this.option = option;
  }
}

/** The work did not finish within the `timeout` policy's `timeoutMs`. */
export class TimeoutError extends BreakerError {
  /** The deadline that passed, in milliseconds. */
  readonly timeoutMs: number;

  constructor(timeoutMs: number, options?: { cause?: unknown }) {
    super(
      'TIMEOUT',
      `The call did not finish within ${timeoutMs} ms; raise timeoutMs or make the work faster (its AbortSignal was aborted).`,
      options,
    );
    this.timeoutMs = timeoutMs;
  }
}

/** The `bulkhead` had every slot busy and its queue full (or the caller waited longer than `queueTimeoutMs`). */
export class BulkheadFullError extends BreakerError {
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
export class RateLimitedError extends BreakerError {
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
export class RetryBudgetExhaustedError extends BreakerError {
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
export class AbortedError extends BreakerError {
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
export class BreakerOpenError extends BreakerError {
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
export class BreakerIsolatedError extends BreakerError {
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
export class InvalidSnapshotError extends BreakerError {
  /** Dotted path of the offending field, e.g. `window.outcomes.3`. */
  readonly field: string;

  constructor(field: string, message: string) {
    super('INVALID_SNAPSHOT', message);
    this.field = field;
  }
}
