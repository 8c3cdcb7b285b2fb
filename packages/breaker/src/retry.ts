import {
  type Clock,
  type Infer,
  type Listener,
  ListenerList,
  o,
  otel,
  type Subscription,
  sleep,
  systemClock,
} from '@ballast/kernel';
import { Attempt, abortError, callError, Scope, signalOf, sourceOf } from './abort.ts';
import {
  type BackoffFunction,
  type BackoffKind,
  backoffDelay,
  parseRetryAfter,
} from './backoff.ts';
import { InvalidOptionsError, isBreakerError, RetryBudgetExhaustedError } from './errors.ts';
import type { AttemptContext, ExecuteOptions, Policy, Work } from './policy.ts';
import { RetryBudget, type RetryBudgetOptions } from './retry-budget.ts';
import { clockSchema, finite, parseOptions, predicateSchema } from './validate.ts';

/** What a failed attempt produced: an error, or a result that `handleResult` asked to retry. */
export type RetryOutcome = { readonly error: unknown } | { readonly result: unknown };

/** Emitted by {@link RetryPolicy.onRetry} before each retry's delay. */
export type RetryEvent = RetryOutcome & {
  /** The attempt about to run (2 for the first retry). */
  readonly attempt: number;
  /** The delay before it, in milliseconds. */
  readonly delayMs: number;
};

/** Options of {@link retry}. */
export interface RetryOptions {
  /** Attempts in total, the first included (1–100). Default `3`. */
  maxAttempts?: number | undefined;
  /** Backoff between attempts: a built-in kind or a function. Default `'full-jitter'`. */
  backoff?: BackoffKind | BackoffFunction | undefined;
  /** First delay (and the constant one), in milliseconds. Default `100`. */
  initialDelayMs?: number | undefined;
  /** Cap of every delay, Retry-After included, in milliseconds. Default `10_000`. */
  maxDelayMs?: number | undefined;
  /** Growth factor of `exponential` and `full-jitter`. Default `2`. */
  multiplier?: number | undefined;
  /**
   * Which errors are retried. Default: every error except this package's `BREAKER_OPEN`,
   * `BREAKER_ISOLATED`, `ABORTED`, `RETRY_BUDGET_EXHAUSTED` and `INVALID_OPTIONS`.
   */
  handleError?: ((error: unknown) => boolean) | undefined;
  /** Which results are retried as failures (e.g. `(res) => res.statusCode >= 500`). Default: none. */
  handleResult?: ((result: unknown) => boolean) | undefined;
  /**
   * Reads a server-requested delay from a failed attempt: a `Retry-After` value (delta-seconds or
   * an HTTP-date) as a string, or milliseconds as a number. The retry waits at least that long
   * (capped at `maxDelayMs`). Default: a `retry-after` header of a result with `headers`
   * (fetch `Response`, undici `request` result), or an error's numeric `retryAfterMs`.
   */
  retryAfter?: ((outcome: RetryOutcome) => string | number | null | undefined) | undefined;
  /** The retry budget shared by every call through this policy, or `false` to disable it. */
  budget?: RetryBudgetOptions | false | undefined;
  /** Time source for delays and the budget. Default: the system clock (its timers keep the process alive while you await them). */
  clock?: Clock | undefined;
  /** Random source in [0, 1) for the jittered backoffs. Default `Math.random`. */
  random?: (() => number) | undefined;
}

const budgetSchema = o.object({
  ratio: finite({ min: 0, max: 10 }).default(0.2),
  minPerSecond: finite({ min: 0 }).default(10),
  windowMs: finite({ gt: 0 }).default(10_000),
});

const retrySchema = o.object({
  maxAttempts: o.integer({ min: 1, max: 100 }).default(3),
  backoff: o
    .union(
      o.oneOf(['constant', 'exponential', 'full-jitter', 'decorrelated-jitter']),
      o.fn<BackoffFunction>(),
    )
    .default('full-jitter'),
  initialDelayMs: finite({ min: 0 }).default(100),
  maxDelayMs: finite({ min: 0 }).default(10_000),
  multiplier: finite({ min: 1 }).default(2),
  handleError: predicateSchema.optional(),
  handleResult: predicateSchema.optional(),
  retryAfter: o.fn<(outcome: RetryOutcome) => string | number | null | undefined>().optional(),
  budget: o
    .union(o.literal(false), budgetSchema)
    .default({ ratio: 0.2, minPerSecond: 10, windowMs: 10_000 }),
  clock: clockSchema.optional(),
  random: o.fn<() => number>().optional(),
});

const NOT_RETRIED = new Set([
  'BREAKER_OPEN',
  'BREAKER_ISOLATED',
  'ABORTED',
  'RETRY_BUDGET_EXHAUSTED',
  'INVALID_OPTIONS',
]);

/** The default `handleError`: everything but this package's refusals and aborts. */
function retryableByDefault(error: unknown): boolean {
  return !(isBreakerError(error) && NOT_RETRIED.has(error.code));
}

/** The default `retryAfter`: a result's `retry-after` header or an error's `retryAfterMs`. */
function defaultRetryAfter(outcome: RetryOutcome): string | number | undefined {
  if ('error' in outcome) {
    const ms = (outcome.error as { retryAfterMs?: unknown } | null)?.retryAfterMs;
    return typeof ms === 'number' ? ms : undefined;
  }
  const headers = (outcome.result as { headers?: unknown } | null)?.headers;
  if (typeof headers !== 'object' || headers === null) return undefined;
  if (typeof (headers as Headers).get === 'function') {
    return (headers as Headers).get('retry-after') ?? undefined;
  }
  const value = (headers as Record<string, unknown>)['retry-after'];
  return typeof value === 'string' ? value : Array.isArray(value) ? value[0] : undefined;
}

/**
 * A policy that runs the work again after a failure, with backoff, honouring Retry-After, within
 * a retry budget shared by every call through it. Each attempt gets `{ signal, attempt }`; an
 * abort during a backoff delay rejects at once and clears the timer.
 */
export class RetryPolicy implements Policy {
  /** Attempts in total, the first included. */
  readonly maxAttempts: number;
  /** The shared retry budget, or `undefined` when disabled. */
  readonly budget: RetryBudget | undefined;
  readonly #options: Infer<typeof retrySchema>;
  readonly #clock: Clock;
  readonly #random: () => number;
  readonly #handleError: (error: unknown) => boolean;
  readonly #handleResult: ((result: unknown) => boolean) | undefined;
  readonly #retryAfter: (outcome: RetryOutcome) => string | number | null | undefined;
  readonly #onRetry = new ListenerList<RetryEvent>({ error: InvalidOptionsError });

  constructor(options: RetryOptions = {}) {
    const parsed = parseOptions(retrySchema, options, 'retry()');
    this.#options = parsed;
    this.maxAttempts = parsed.maxAttempts;
    this.#clock = parsed.clock ?? systemClock;
    this.#random = parsed.random ?? Math.random;
    this.#handleError = parsed.handleError ?? retryableByDefault;
    this.#handleResult = parsed.handleResult;
    this.#retryAfter = parsed.retryAfter ?? defaultRetryAfter;
    this.budget = parsed.budget === false ? undefined : new RetryBudget(this.#clock, parsed.budget);
  }

  /**
   * Runs `fn` up to `maxAttempts` times. Resolves with the first accepted result (or the last
   * result `handleResult` rejected once attempts or budget run out); rejects with the last error,
   * or `RetryBudgetExhaustedError` (cause: the last error) when the budget stopped a retry.
   */
  async execute<T>(fn: Work<T>, options?: ExecuteOptions): Promise<T> {
    const invalid = callError(fn, options);
    if (invalid !== undefined) throw invalid;
    const source = sourceOf(options);
    if (source?.aborted) throw abortError(source);
    this.budget?.deposit();
    let delay = 0;
    for (let attempt = 1; ; attempt++) {
      const context: AttemptContext =
        attempt === 1 &&
        (options instanceof Scope || options instanceof Attempt) &&
        options.attempt === 1
          ? options
          : new Attempt(source, attempt);
      let next: number | 'budget' | undefined;
      try {
        const result = await fn(context);
        if (this.#handleResult === undefined || !this.#handleResult(result)) return result;
        next = source?.aborted ? undefined : this.planRetry(attempt, { result }, delay);
        if (typeof next !== 'number') return result;
      } catch (error) {
        next = source?.aborted ? undefined : this.planRetry(attempt, { error }, delay);
        if (next === 'budget') throw new RetryBudgetExhaustedError(attempt, error);
        if (next === undefined) throw error;
      }
      delay = next;
      // The back-off keeps the process alive (the caller awaits it); an abort ends it at once.
      await sleep(delay, { clock: this.#clock, signal: signalOf(source) }).catch(() => {
        throw abortError(source);
      });
    }
  }

  /**
   * Decides whether attempt number `attempt`, which ended with `outcome`, is retried: returns the
   * delay in milliseconds (and records a `retry` span event and takes a budget token), `'budget'`
   * when only the retry budget stops it, or `undefined` when it is not retried (not handled, or
   * no attempts left). `execute` uses it; so does the undici interceptor, for each request.
   */
  planRetry(
    attempt: number,
    outcome: RetryOutcome,
    previousDelayMs: number,
  ): number | 'budget' | undefined {
    if (attempt >= this.maxAttempts) return undefined;
    if (
      'error' in outcome ? !this.#handleError(outcome.error) : !this.#handleResult?.(outcome.result)
    ) {
      return undefined;
    }
    if (this.budget !== undefined && !this.budget.tryWithdraw()) return 'budget';
    const o = this.#options;
    let delay = backoffDelay(o.backoff, attempt, previousDelayMs, this.#random(), o);
    const requested = parseRetryAfter(this.#retryAfter(outcome), Date.now());
    if (requested !== undefined) delay = Math.min(Math.max(delay, requested), o.maxDelayMs);
    otel()
      ?.trace.getActiveSpan()
      ?.addEvent('retry', {
        'ballast.breaker.retry.attempt': attempt + 1,
        'ballast.breaker.retry.delay_ms': delay,
      });
    if (this.#onRetry.size > 0)
      this.#onRetry.emit({ ...outcome, attempt: attempt + 1, delayMs: delay });
    return delay;
  }

  /** Subscribes to retries (one event before each retry's delay); dispose to stop. */
  onRetry(listener: Listener<RetryEvent>): Subscription {
    return this.#onRetry.add(listener);
  }
}

/**
 * Creates a {@link RetryPolicy}: `retry({ maxAttempts: 3, backoff: 'full-jitter' })`.
 * @throws InvalidOptionsError (code `INVALID_OPTIONS`) naming the bad option.
 */
export function retry(options: RetryOptions = {}): RetryPolicy {
  return new RetryPolicy(options);
}
