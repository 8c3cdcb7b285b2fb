import { type Clock, o, systemClock } from '@ballast/kernel';
import type { Dispatcher } from 'undici';
import type { BreakerOptions } from './breaker-options.ts';
import { BreakerRegistry } from './breaker-registry.ts';
import { AbortedError, RetryBudgetExhaustedError, TimeoutError } from './errors.ts';
import type { Policy } from './policy.ts';
import { type RetryOptions, RetryPolicy } from './retry.ts';
import { clockSchema, finite, nestedOptions, parseOptions } from './validate.ts';

type DispatchHandler = Dispatcher.DispatchHandler;
type DispatchController = Dispatcher.DispatchController;
type Dispatch = Dispatcher.Dispatch;
type DispatchOptions = Dispatcher.DispatchOptions;
type IncomingHttpHeaders = Parameters<NonNullable<DispatchHandler['onResponseStart']>>[2];

/** Where the interceptor finds the breaker of an origin (e.g. a keyed breaker registry). */
export interface BreakerSource {
  /** The breaker of `origin` (`https://host:port`), created on first use. */
  get(origin: string): Policy;
}

/** Options of {@link breakerInterceptor}. */
export interface BreakerInterceptorOptions {
  /**
   * Options of each origin's circuit breaker, kept in a keyed registry (one breaker per origin,
   * named after it). Ignored when `breakers` is given.
   */
  breaker?: Omit<BreakerOptions, 'name'> | undefined;
  /**
   * Your own per-origin breakers instead, e.g. `createBreakerRegistry({ … })` when you also read
   * their metrics or size the registry.
   */
  breakers?: BreakerSource | undefined;
  /**
   * Retries of idempotent requests (GET, HEAD, OPTIONS, PUT, DELETE, TRACE with a replayable
   * body), through the same breaker, honouring `Retry-After`. `retry` options; `handleResult`
   * receives `{ statusCode, headers }` and defaults to `isFailure(statusCode)`. Default: no retry.
   */
  retry?: RetryOptions | false | undefined;
  /**
   * Per attempt: time from dispatch until the response headers arrive, in milliseconds; then the
   * attempt is aborted with `TimeoutError` (a request still waiting for a connection is aborted
   * as soon as it gets one). Default: none.
   */
  timeoutMs?: number | undefined;
  /** Which status codes count as breaker failures (and are retried). Default `status >= 500`. */
  isFailure?: ((statusCode: number) => boolean) | undefined;
  /** Time source of `timeoutMs` and retry delays. Default: the system clock (its timers keep the process alive while you await them). */
  clock?: Clock | undefined;
}

/** What a retried attempt's result looks like to `retry.handleResult` and `retry.retryAfter`. */
export interface InterceptedResponse {
  readonly statusCode: number;
  readonly headers: IncomingHttpHeaders;
}

const anObject = o.object({}, { passthrough: true });

const interceptorSchema = o.object({
  breaker: anObject.optional(),
  breakers: o
    .custom<BreakerSource>(
      (v) => typeof v === 'object' && v !== null && typeof (v as BreakerSource).get === 'function',
      'an object with a get(origin) method returning a breaker',
    )
    .optional(),
  retry: o.union(o.literal(false), anObject).optional(),
  timeoutMs: finite({ gt: 0 }).optional(),
  isFailure: o.fn<(statusCode: number) => boolean>().optional(),
  clock: clockSchema.optional(),
});

const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);

const serverError = (statusCode: number) => statusCode >= 500;

/** The breaker sees a failure status as this error; the response itself still reaches the caller. */
class FailureStatus extends Error {
  readonly statusCode: number;
  constructor(statusCode: number) {
    super(`The server answered ${statusCode}.`);
    this.statusCode = statusCode;
  }
}

interface Settings {
  readonly retry: RetryPolicy | undefined;
  readonly timeoutMs: number | undefined;
  readonly isFailure: (statusCode: number) => boolean;
  readonly clock: Clock;
}

/**
 * An undici interceptor that runs every request through its origin's circuit breaker: failure
 * statuses (default 5xx), connection errors and timeouts count as failures, a caller's abort
 * does not (see the breaker's `recordAborts`); an open breaker answers at once with
 * `BreakerOpenError` without touching the network; idempotent requests may be retried
 * (honouring `Retry-After`); each attempt may have a timeout.
 *
 * ```ts
 * const agent = new Agent().compose(breakerInterceptor({ breaker: { failureRateThreshold: 0.5 }, timeoutMs: 2_000 }));
 * await request('https://api.example.com/items', { dispatcher: agent });
 * ```
 * @throws InvalidOptionsError (code `INVALID_OPTIONS`) naming the bad option.
 */
export function breakerInterceptor(
  options: BreakerInterceptorOptions = {},
): Dispatcher.DispatcherComposeInterceptor {
  const parsed = parseOptions(interceptorSchema, options, 'breakerInterceptor()');
  const clock = parsed.clock ?? systemClock;
  const isFailure = parsed.isFailure ?? serverError;
  const factory = 'breakerInterceptor()';
  const breakers =
    options.breakers ??
    nestedOptions(factory, 'breaker', () => new BreakerRegistry({ breaker: options.breaker }));
  const retryOptions = options.retry;
  const settings: Settings = {
    retry:
      retryOptions === undefined || retryOptions === false
        ? undefined
        : nestedOptions(
            factory,
            'retry',
            () =>
              new RetryPolicy({
                clock,
                handleResult: (result) => isFailure((result as InterceptedResponse).statusCode),
                ...retryOptions,
              }),
          ),
    timeoutMs: parsed.timeoutMs,
    isFailure,
    clock,
  };
  return (dispatch: Dispatch): Dispatch =>
    (opts: DispatchOptions, handler: DispatchHandler): boolean => {
      const origin = String(opts.origin ?? '');
      return new InterceptedRequest(
        dispatch,
        opts,
        handler,
        breakers.get(origin),
        settings,
      ).start();
    };
}

/** The controller the caller's handler holds: it follows the current attempt's connection. */
class ControllerProxy implements DispatchController {
  target: DispatchController | undefined = undefined;
  #paused = false;
  #aborted = false;
  #reason: Error | null = null;
  readonly #onAbort: (reason: Error) => void;

  constructor(onAbort: (reason: Error) => void) {
    this.#onAbort = onAbort;
  }

  get aborted(): boolean {
    return this.#aborted;
  }
  get paused(): boolean {
    return this.#paused;
  }
  get reason(): Error | null {
    return this.#reason;
  }
  get rawHeaders() {
    return this.target?.rawHeaders ?? null;
  }
  get rawTrailers() {
    return this.target?.rawTrailers ?? null;
  }

  abort(reason: Error): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#reason = reason;
    this.#onAbort(reason);
  }
  pause(): void {
    this.#paused = true;
    this.target?.pause();
  }
  resume(): void {
    this.#paused = false;
    this.target?.resume();
  }
}

/** Where a request is: an attempt in flight with no response yet… */
const WAITING = 0;
/** …the response goes to the caller… */
const FORWARDING = 1;
/** …a failed response is drained before a retry… */
const DISCARDING = 2;
/** …waiting for the retry delay… */
const BACKOFF = 3;
/** …finished. */
const DONE = 4;

/** One request through the interceptor: its attempts, breaker admissions and retries. */
class InterceptedRequest implements DispatchHandler {
  readonly #dispatch: Dispatch;
  readonly #opts: DispatchOptions;
  readonly #handler: DispatchHandler;
  readonly #breaker: Policy;
  readonly #settings: Settings;
  readonly #proxy: ControllerProxy;
  readonly #retryable: boolean;
  #phase = WAITING as number;
  #attempt = 0;
  #delay = 0;
  #nextDelay = 0;
  #started = false;
  #settle: { resolve: () => void; reject: (error: unknown) => void } | undefined = undefined;
  #timer: unknown = undefined;
  #timedOut: TimeoutError | undefined = undefined;

  constructor(
    dispatch: Dispatch,
    opts: DispatchOptions,
    handler: DispatchHandler,
    breaker: Policy,
    settings: Settings,
  ) {
    this.#dispatch = dispatch;
    this.#opts = opts;
    this.#handler = handler;
    this.#breaker = breaker;
    this.#settings = settings;
    this.#proxy = new ControllerProxy((reason) => this.#onCallerAbort(reason));
    this.#retryable =
      settings.retry !== undefined &&
      IDEMPOTENT.has(String(opts.method).toUpperCase()) &&
      isReplayable(opts.body);
    if (this.#retryable) settings.retry!.budget?.deposit();
  }

  /**
   * Starts an attempt through the breaker. Returns what the inner dispatch returned (`false` =
   * the dispatcher is busy, undici's backpressure signal), `true` when it did not run synchronously.
   */
  start(): boolean {
    this.#attempt++;
    this.#phase = WAITING;
    this.#proxy.target = undefined;
    this.#timedOut = undefined;
    let ran = false;
    let accepted = true;
    this.#breaker
      .execute(
        () =>
          new Promise<void>((resolve, reject) => {
            ran = true;
            this.#settle = { resolve, reject };
            this.#armTimeout();
            try {
              accepted = this.#dispatch(this.#opts, this);
            } catch (error) {
              this.onResponseError(this.#proxy.target, error as Error);
            }
          }),
      )
      .then(undefined, (error: unknown) => {
        // Failures of attempts that ran were handled by the handler callbacks.
        if (!ran) this.#fail(error);
      });
    return accepted;
  }

  onRequestStart(controller: DispatchController, context: unknown): void {
    this.#proxy.target = controller;
    if (this.#proxy.aborted) {
      controller.abort(this.#proxy.reason!);
      return;
    }
    if (this.#timedOut !== undefined) {
      controller.abort(this.#timedOut);
      return;
    }
    if (this.#proxy.paused) controller.pause();
    if (!this.#started) {
      this.#started = true;
      this.#handler.onRequestStart?.(this.#proxy, context);
    }
  }

  onRequestUpgrade(
    _controller: DispatchController,
    statusCode: number,
    headers: IncomingHttpHeaders,
    socket: Parameters<NonNullable<DispatchHandler['onRequestUpgrade']>>[3],
  ): void {
    this.#attemptSucceeded();
    this.#phase = FORWARDING;
    this.#handler.onRequestUpgrade?.(this.#proxy, statusCode, headers, socket);
  }

  onResponseStart(
    _controller: DispatchController,
    statusCode: number,
    headers: IncomingHttpHeaders,
    statusMessage?: string,
  ): void {
    if (this.#phase !== WAITING) return;
    if (statusCode < 200) {
      this.#handler.onResponseStart?.(this.#proxy, statusCode, headers, statusMessage);
      return;
    }
    if (this.#settings.isFailure(statusCode)) {
      this.#attemptFailed(new FailureStatus(statusCode));
      const next = this.#plan({ result: { statusCode, headers } });
      if (typeof next === 'number') {
        this.#nextDelay = next;
        this.#phase = DISCARDING;
        return;
      }
    } else {
      this.#attemptSucceeded();
    }
    this.#phase = FORWARDING;
    this.#handler.onResponseStart?.(this.#proxy, statusCode, headers, statusMessage);
  }

  onResponseData(_controller: DispatchController, chunk: Buffer): void {
    if (this.#phase === FORWARDING) this.#handler.onResponseData?.(this.#proxy, chunk);
  }

  onResponseEnd(_controller: DispatchController, trailers: IncomingHttpHeaders): void {
    if (this.#phase === FORWARDING) {
      this.#phase = DONE;
      this.#handler.onResponseEnd?.(this.#proxy, trailers);
    } else if (this.#phase === DISCARDING) {
      this.#backoff(this.#nextDelay);
    }
  }

  onResponseError(_controller: DispatchController | undefined, error: Error): void {
    const phase = this.#phase;
    if (phase === DONE || phase === BACKOFF) return;
    if (phase === FORWARDING) {
      this.#fail(error);
      return;
    }
    if (phase === DISCARDING) {
      this.#backoff(this.#nextDelay);
      return;
    }
    // Waiting: the attempt failed before any response (connection error, timeout, abort).
    const cause = this.#timedOut ?? error;
    if (this.#proxy.aborted) {
      // The caller gave up: the breaker ignores an ABORTED error (unless `recordAborts` is set).
      this.#attemptFailed(new AbortedError(this.#proxy.reason));
      this.#fail(this.#proxy.reason ?? error);
      return;
    }
    this.#attemptFailed(cause);
    const next = this.#plan({ error: cause });
    if (typeof next === 'number') this.#backoff(next);
    else
      this.#fail(next === 'budget' ? new RetryBudgetExhaustedError(this.#attempt, cause) : cause);
  }

  #plan(
    outcome: { error: unknown } | { result: InterceptedResponse },
  ): number | 'budget' | undefined {
    if (!this.#retryable || this.#proxy.aborted) return undefined;
    return this.#settings.retry!.planRetry(this.#attempt, outcome, this.#delay);
  }

  #backoff(delay: number): void {
    this.#phase = BACKOFF;
    this.#delay = delay;
    this.#timer = this.#settings.clock.setTimeout(() => {
      this.#timer = undefined;
      this.start();
    }, delay);
  }

  #armTimeout(): void {
    const timeoutMs = this.#settings.timeoutMs;
    if (timeoutMs === undefined) return;
    this.#timer = this.#settings.clock.setTimeout(() => {
      this.#timer = undefined;
      if (this.#phase !== WAITING) return;
      this.#timedOut = new TimeoutError(timeoutMs);
      const target = this.#proxy.target;
      if (target !== undefined && !target.aborted) target.abort(this.#timedOut);
    }, timeoutMs);
  }

  #clearTimer(): void {
    if (this.#timer !== undefined) {
      this.#settings.clock.clearTimeout(this.#timer);
      this.#timer = undefined;
    }
  }

  #attemptSucceeded(): void {
    this.#clearTimer();
    this.#settle?.resolve();
    this.#settle = undefined;
  }

  #attemptFailed(error: unknown): void {
    this.#clearTimer();
    this.#settle?.reject(error);
    this.#settle = undefined;
  }

  #onCallerAbort(reason: Error): void {
    if (this.#phase === BACKOFF) {
      this.#clearTimer();
      this.#fail(reason);
      return;
    }
    const target = this.#proxy.target;
    if (target !== undefined && !target.aborted) target.abort(reason);
  }

  #fail(error: unknown): void {
    if (this.#phase === DONE) return;
    this.#phase = DONE;
    this.#clearTimer();
    this.#handler.onResponseError?.(
      this.#proxy,
      error instanceof Error ? error : new AbortedError(error),
    );
  }
}

function isReplayable(body: DispatchOptions['body']): boolean {
  return (
    body === undefined || body === null || typeof body === 'string' || body instanceof Uint8Array
  );
}
