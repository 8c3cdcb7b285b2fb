import {
  type Clock,
  FollowingController,
  type HeadersLike,
  isReplayableRequest,
} from '@ballast/kernel';
import type { Dispatcher } from 'undici';
import { AbortedError, RetryBudgetExhaustedError, TimeoutError } from './errors.ts';
import type { Policy } from './policy.ts';
import type { RetryOutcome, RetryPolicy } from './retry.ts';

type DispatchHandler = Dispatcher.DispatchHandler;
type DispatchController = Dispatcher.DispatchController;
type Dispatch = Dispatcher.Dispatch;
type DispatchOptions = Dispatcher.DispatchOptions;
/** Response headers as undici hands them to a handler. */
export type IncomingHttpHeaders = Parameters<NonNullable<DispatchHandler['onResponseStart']>>[2];
type UpgradeSocket = Parameters<NonNullable<DispatchHandler['onRequestUpgrade']>>[3];

/** The retry policy (and so the retry budget) of an origin. */
export type RetryFor = (origin: string) => RetryPolicy;

/** What every exchange of one interceptor shares. */
export interface ExchangeSettings {
  readonly retryFor: RetryFor | undefined;
  readonly timeoutMs: number | undefined;
  readonly isFailure: (statusCode: number) => boolean;
  readonly clock: Clock;
}

/** The breaker sees a failure status as this error; the response itself still reaches the caller. */
class FailureStatus extends Error {
  readonly statusCode: number;
  constructor(statusCode: number) {
    super(`The server answered ${statusCode}.`);
    this.statusCode = statusCode;
  }
}

/** A failed response read (drained) before a retry, kept to hand over if no retry runs after all. */
interface Kept {
  readonly statusCode: number;
  readonly headers: IncomingHttpHeaders;
  readonly statusMessage: string | undefined;
  readonly chunks: Buffer[];
  size: number;
  /** The whole body was read and kept (not cut by the drain's deadline, not over the size cap). */
  complete: boolean;
  trailers: IncomingHttpHeaders;
}

/** A drained body larger than this is not kept (it is still drained, within the deadline). */
const KEEP_MAX_BYTES = 64 * 1024;
/** Draining a failed response before a retry never takes longer than this (nor the attempt's deadline). */
const DRAIN_MAX_MS = 1_000;

// Where an exchange is:
/** An attempt is dispatched and has no response yet (queued, connecting, sent). */
const WAITING = 0;
/** The response goes to the caller, body included. */
const FORWARDING = 1;
/** A failed response is read to its end (bounded) before a retry. */
const DRAINING = 2;
/** Waiting for the retry delay. */
const BACKOFF = 3;
/** Finished: the caller got its answer. */
const DONE = 4;

/** Why the interceptor itself ended an attempt that it gave up on (never seen by the caller). */
const ABANDONED = new Error('The interceptor abandoned this attempt.');

/**
 * One request through the interceptor — its attempts, breaker admissions, retries — as a state
 * machine driven by undici's handler callbacks. Every attempt runs inside `breaker.execute()` and
 * settles only when the exchange ends (body included), so the breaker books the outcome and the
 * duration of the whole exchange. Each attempt gets its own {@link AttemptHandler}, so callbacks of
 * an attempt the exchange gave up on (timed out while waiting for a connection) are told apart.
 */
export class Exchange {
  readonly #dispatch: Dispatch;
  readonly #opts: DispatchOptions;
  readonly #handler: DispatchHandler;
  readonly #breaker: Policy;
  readonly #settings: ExchangeSettings;
  readonly #controller: FollowingController<DispatchController>;
  readonly #retry: RetryPolicy | undefined;
  #phase = WAITING as number;
  #attempt = 0;
  #delay = 0;
  #nextDelay = 0;
  #callerStarted = false;
  #settle: { resolve: () => void; reject: (error: unknown) => void } | undefined = undefined;
  #timer: unknown = undefined;
  #drainTimer: unknown = undefined;
  #timedOut: TimeoutError | undefined = undefined;
  /** The failure status being forwarded (booked when its body ends), else `undefined`. */
  #verdict: FailureStatus | undefined = undefined;
  #kept: Kept | undefined = undefined;
  /** The last attempt's real outcome when it was an error (for a refusal between attempts). */
  #lastError: unknown = undefined;

  constructor(
    dispatch: Dispatch,
    opts: DispatchOptions,
    handler: DispatchHandler,
    breaker: Policy,
    origin: string,
    settings: ExchangeSettings,
  ) {
    this.#dispatch = dispatch;
    this.#opts = opts;
    this.#handler = handler;
    this.#breaker = breaker;
    this.#settings = settings;
    this.#controller = new FollowingController((reason) => this.#onCallerAbort(reason));
    const retryable =
      settings.retryFor !== undefined &&
      isReplayableRequest({
        method: String(opts.method),
        headers: opts.headers as HeadersLike,
        body: opts.body,
      });
    this.#retry = retryable ? settings.retryFor!(origin) : undefined;
    this.#retry?.budget?.deposit();
  }

  /**
   * Starts an attempt through the breaker. Returns what the inner dispatch returned (`false` = the
   * dispatcher is busy, undici's backpressure signal), `true` when the breaker refused at once.
   */
  start(): boolean {
    const attempt = ++this.#attempt;
    this.#phase = WAITING;
    this.#controller.release();
    this.#timedOut = undefined;
    this.#verdict = undefined;
    let ran = false;
    let accepted = true;
    this.#breaker
      .execute(
        () =>
          new Promise<void>((resolve, reject) => {
            ran = true;
            this.#settle = { resolve, reject };
            this.#armTimeout(attempt);
            try {
              accepted = this.#dispatch(this.#opts, new AttemptHandler(this, attempt));
            } catch (error) {
              this.responseError(attempt, error as Error);
            }
          }),
      )
      .then(undefined, (error: unknown) => {
        // Attempts that ran were booked and answered by the handler callbacks.
        if (!ran) this.#refused(error);
      });
    return accepted;
  }

  /** True when callbacks of `attempt` no longer matter (a later attempt runs, or it is over). */
  #stale(attempt: number): boolean {
    return attempt !== this.#attempt || this.#phase === DONE || this.#phase === BACKOFF;
  }

  requestStart(attempt: number, controller: DispatchController, context: unknown): void {
    if (this.#stale(attempt)) {
      controller.abort(ABANDONED);
      return;
    }
    this.#controller.follow(controller);
    if (this.#controller.aborted) {
      controller.abort(this.#controller.reason!);
      return;
    }
    if (!this.#callerStarted) {
      this.#callerStarted = true;
      this.#handler.onRequestStart?.(this.#controller, context);
    }
  }

  requestUpgrade(
    attempt: number,
    statusCode: number,
    headers: IncomingHttpHeaders,
    socket: UpgradeSocket,
  ): void {
    if (this.#stale(attempt)) return;
    this.#phase = DONE;
    this.#attemptSettled(undefined);
    this.#handler.onRequestUpgrade?.(this.#controller, statusCode, headers, socket);
  }

  responseStart(
    attempt: number,
    statusCode: number,
    headers: IncomingHttpHeaders,
    statusMessage: string | undefined,
  ): void {
    if (this.#stale(attempt) || this.#phase !== WAITING) return;
    if (statusCode < 200) {
      this.#handler.onResponseStart?.(this.#controller, statusCode, headers, statusMessage);
      return;
    }
    if (this.#settings.isFailure(statusCode)) {
      const next = this.#plan({ result: { statusCode, headers } });
      if (typeof next === 'number') {
        this.#drain(next, { statusCode, headers, statusMessage });
        return;
      }
      this.#verdict = new FailureStatus(statusCode);
    }
    this.#phase = FORWARDING;
    this.#handler.onResponseStart?.(this.#controller, statusCode, headers, statusMessage);
  }

  responseData(attempt: number, chunk: Buffer): void {
    if (this.#stale(attempt)) return;
    if (this.#phase === FORWARDING) this.#handler.onResponseData?.(this.#controller, chunk);
    else if (this.#phase === DRAINING) this.#keep(chunk);
  }

  responseEnd(attempt: number, trailers: IncomingHttpHeaders): void {
    if (this.#stale(attempt)) return;
    if (this.#phase === FORWARDING) {
      this.#phase = DONE;
      this.#attemptSettled(this.#verdict); // the whole exchange is over: book it now
      this.#handler.onResponseEnd?.(this.#controller, trailers);
    } else if (this.#phase === DRAINING) {
      const kept = this.#kept!;
      kept.trailers = trailers;
      this.#drained();
    }
  }

  responseError(attempt: number, error: Error): void {
    if (this.#stale(attempt)) return;
    if (this.#callerAborted()) {
      // The caller gave up, in whatever phase: the breaker ignores an ABORTED error (unless
      // `recordAborts` is set), no retry follows, and the caller gets its own reason back.
      const reason = this.#callerReason();
      this.#attemptSettled(new AbortedError(reason));
      this.#fail(reason);
      return;
    }
    const cause = this.#timedOut ?? error;
    if (this.#phase === DRAINING) {
      if (this.#kept !== undefined) this.#kept.complete = false; // cut: the body is incomplete
      this.#drained();
    } else if (this.#phase === FORWARDING) {
      // The body died or timed out after the headers went to the caller: a failed exchange.
      this.#attemptSettled(cause);
      this.#fail(cause);
    } else this.#noResponse(cause);
  }

  /** The attempt ended without a response: a connection error, or the timeout. */
  #noResponse(cause: unknown): void {
    this.#attemptSettled(cause);
    this.#lastError = cause;
    this.#kept = undefined;
    const next = this.#plan({ error: cause });
    if (typeof next === 'number') this.#backoff(next);
    else
      this.#fail(next === 'budget' ? new RetryBudgetExhaustedError(this.#attempt, cause) : cause);
  }

  #plan(outcome: RetryOutcome): number | 'budget' | undefined {
    if (this.#retry === undefined || this.#callerAborted()) return undefined;
    return this.#retry.planRetry(this.#attempt, outcome, this.#delay);
  }

  /** A failed response that will be retried: read it to the end, within bounds, keeping it. */
  #drain(delay: number, response: Omit<Kept, 'chunks' | 'size' | 'complete' | 'trailers'>): void {
    this.#phase = DRAINING;
    this.#nextDelay = delay;
    this.#lastError = new FailureStatus(response.statusCode);
    this.#kept = { ...response, chunks: [], size: 0, complete: true, trailers: {} };
    this.#drainTimer = this.#settings.clock.setTimeout(() => {
      this.#drainTimer = undefined;
      this.#cutDrain();
    }, DRAIN_MAX_MS);
  }

  #keep(chunk: Buffer): void {
    const kept = this.#kept!;
    if (!kept.complete) return;
    kept.size += chunk.length;
    if (kept.size > KEEP_MAX_BYTES) {
      kept.complete = false;
      kept.chunks.length = 0;
    } else kept.chunks.push(chunk);
  }

  /** The drain took too long: close the connection instead (its error then ends the drain). */
  #cutDrain(): void {
    const target = this.#controller.target;
    if (target !== undefined && !target.aborted) target.abort(ABANDONED);
    else this.#drained();
  }

  /** The failed response is read (or cut): book the failure, then wait for the retry. */
  #drained(): void {
    this.#attemptSettled(this.#lastError);
    this.#backoff(this.#nextDelay);
  }

  #backoff(delay: number): void {
    this.#phase = BACKOFF;
    this.#delay = delay;
    this.#controller.release();
    this.#timer = this.#settings.clock.setTimeout(() => {
      this.#timer = undefined;
      this.start();
    }, delay);
  }

  /** Arms the attempt's deadline: from dispatch to the last byte of the response. */
  #armTimeout(attempt: number): void {
    const timeoutMs = this.#settings.timeoutMs;
    if (timeoutMs === undefined) return;
    this.#timer = this.#settings.clock.setTimeout(() => {
      this.#timer = undefined;
      if (this.#stale(attempt)) return;
      const target = this.#controller.target;
      if (this.#phase === DRAINING) {
        this.#cutDrain();
        return;
      }
      const phase =
        target === undefined ? 'connection' : this.#phase === WAITING ? 'headers' : 'body';
      const timedOut = new TimeoutError(timeoutMs, { phase });
      this.#timedOut = timedOut;
      if (target !== undefined && !target.aborted) target.abort(timedOut);
      else if (target === undefined) {
        // Still waiting for a connection: give up on this attempt now (undici would hold it until
        // its own connect timeout); if it starts later, it is aborted at once.
        this.#noResponse(timedOut);
      }
    }, timeoutMs);
  }

  #clearTimers(): void {
    const clock = this.#settings.clock;
    if (this.#timer !== undefined) {
      clock.clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    if (this.#drainTimer !== undefined) {
      clock.clearTimeout(this.#drainTimer);
      this.#drainTimer = undefined;
    }
  }

  /** Books the current attempt in the breaker: a success (`undefined`) or this failure. */
  #attemptSettled(failure: unknown): void {
    this.#clearTimers();
    const settle = this.#settle;
    this.#settle = undefined;
    if (settle === undefined) return;
    if (failure === undefined) settle.resolve();
    else settle.reject(failure);
  }

  /** The breaker refused an attempt without running it (open, isolated, closed, aborted). */
  #refused(error: unknown): void {
    if (this.#attempt > 1) {
      // Between attempts: the caller gets the last real result, not a "nothing was sent" refusal.
      const kept = this.#kept;
      if (kept?.complete === true) this.#replay(kept);
      else this.#fail(this.#lastError ?? error);
      return;
    }
    this.#fail(error);
  }

  /** Hands the caller a failed response that was kept while it was drained. */
  #replay(kept: Kept): void {
    this.#phase = DONE;
    this.#clearTimers();
    const handler = this.#handler;
    handler.onResponseStart?.(this.#controller, kept.statusCode, kept.headers, kept.statusMessage);
    for (const chunk of kept.chunks) handler.onResponseData?.(this.#controller, chunk);
    handler.onResponseEnd?.(this.#controller, kept.trailers);
  }

  #callerAborted(): boolean {
    return this.#controller.aborted || signalOf(this.#opts)?.aborted === true;
  }

  #callerReason(): unknown {
    return this.#controller.reason ?? signalOf(this.#opts)?.reason ?? new AbortedError();
  }

  /** The caller aborted through the controller it was given. */
  #onCallerAbort(reason: Error): void {
    const phase = this.#phase;
    if (phase === DONE) return;
    const target = this.#controller.target;
    if ((phase === WAITING || phase === FORWARDING || phase === DRAINING) && target !== undefined) {
      if (!target.aborted) target.abort(reason); // its error comes back through responseError
      return;
    }
    // Between attempts, or a retry still waiting for a connection: stop here.
    this.#attemptSettled(new AbortedError(reason));
    this.#fail(reason);
  }

  #fail(error: unknown): void {
    if (this.#phase === DONE) return;
    this.#phase = DONE;
    this.#clearTimers();
    this.#handler.onResponseError?.(
      this.#controller,
      error instanceof Error ? error : new AbortedError(error),
    );
  }
}

/** The caller's signal, when it passed one in the dispatch options (as undici's `request()` does). */
function signalOf(opts: DispatchOptions): { aborted?: boolean; reason?: unknown } | undefined {
  const signal = (opts as { signal?: unknown }).signal;
  return typeof signal === 'object' && signal !== null
    ? (signal as { aborted?: boolean; reason?: unknown })
    : undefined;
}

/** The handler of one attempt: forwards undici's callbacks to the exchange with its number. */
class AttemptHandler implements DispatchHandler {
  readonly #exchange: Exchange;
  readonly #attempt: number;

  constructor(exchange: Exchange, attempt: number) {
    this.#exchange = exchange;
    this.#attempt = attempt;
  }

  onRequestStart(controller: DispatchController, context: unknown): void {
    this.#exchange.requestStart(this.#attempt, controller, context);
  }
  onRequestUpgrade(
    _controller: DispatchController,
    statusCode: number,
    headers: IncomingHttpHeaders,
    socket: UpgradeSocket,
  ): void {
    this.#exchange.requestUpgrade(this.#attempt, statusCode, headers, socket);
  }
  onResponseStart(
    _controller: DispatchController,
    statusCode: number,
    headers: IncomingHttpHeaders,
    statusMessage?: string,
  ): void {
    this.#exchange.responseStart(this.#attempt, statusCode, headers, statusMessage);
  }
  onResponseData(_controller: DispatchController, chunk: Buffer): void {
    this.#exchange.responseData(this.#attempt, chunk);
  }
  onResponseEnd(_controller: DispatchController, trailers: IncomingHttpHeaders): void {
    this.#exchange.responseEnd(this.#attempt, trailers);
  }
  onResponseError(_controller: DispatchController | null, error: Error): void {
    this.#exchange.responseError(this.#attempt, error);
  }
}
