import { attempt, type Listener, type Subscription } from '@ballast/kernel';
import { abortError, callError, contextFor, sourceOf } from './abort.ts';
import {
  BreakerEvents,
  type FailureEvent,
  type IgnoredEvent,
  type RejectedEvent,
  type SlowCallEvent,
  type StateChangeEvent,
  type SuccessEvent,
  type TransitionReason,
} from './breaker-events.ts';
import {
  type BreakerOptions,
  isResolvedBreakerOptions,
  type ResolvedBreakerOptions,
  resolveBreakerOptions,
} from './breaker-options.ts';
import { type BreakerSnapshot, parseSnapshot } from './breaker-snapshot.ts';
import { CountWindow } from './count-window.ts';
import {
  BreakerIsolatedError,
  BreakerOpenError,
  type BreakerStateName,
  InvalidOptionsError,
  isBreakerError,
  PolicyClosedError,
} from './errors.ts';
import type { AttemptContext, ExecuteOptions, Policy, Work } from './policy.ts';
import { FAILED, SLOW, type SlidingWindow, type WindowSnapshot } from './sliding-window.ts';
import { type BreakerTelemetry, spanStateChange, telemetryFor } from './telemetry.ts';
import { TimeWindow } from './time-window.ts';

/*
 * Fast-path invariants of `execute()` (the `closed` and `pipeline` benchmark groups depend on them;
 * each is guarded by the tests named here, in test/circuit-breaker.test.ts):
 *
 * 1. The quiet path. `#quickFail` is set only while a call without options needs nothing but a
 *    rejection handler: state CLOSED, no predicate or slow-call clock (`!chained`), no listener,
 *    no telemetry SDK, and a success would change nothing (`#successChangesNothing`). Anything
 *    that could change that answer clears it: every booking (`#settle`), every transition
 *    (`#setState`), the first listener (`#listeners`), `close()`. Guarded by "a quiet breaker
 *    (only successes, no listener)" (failures still trip it, a sync throw is booked, a listener
 *    added later sees every call, a manual transition leaves the path) and "successes that change
 *    nothing".
 * 2. The cached handler pair. After HOT untimed calls a breaker keeps one `{ ok, fail }` pair per
 *    epoch in `#hot`; a transition bumps the epoch and drops the pair (`#setState`), so a call
 *    admitted before it books into no window (`#settle` compares epochs). The derived promise the
 *    caller gets settles like the work's, so an unobserved rejection still surfaces. Guarded by
 *    "unhandled rejections" (cold, hot, with a signal, chained) and "work per call" (nothing left
 *    behind after 10,000 calls).
 * 3. The `close()` state (SHUT) sits outside CLOSED/METRICS_ONLY, so a closed breaker is refused on
 *    the admission branch the quiet path never reaches. Guarded by "close() drops every listener
 *    and refuses new work" (events).
 */

// States as small integers (the index into STATE_NAMES); the public API speaks names.
const CLOSED = 0;
const OPEN = 1;
const HALF_OPEN = 2;
const FORCED_OPEN = 3;
const DISABLED = 4;
const METRICS_ONLY = 5;
/** After `close()`: every call is refused; `state` still reports the state it was closed in. */
const SHUT = 6;
const STATE_NAMES: readonly BreakerStateName[] = [
  'CLOSED',
  'OPEN',
  'HALF_OPEN',
  'FORCED_OPEN',
  'DISABLED',
  'METRICS_ONLY',
];

// Call outcomes (the index into the telemetry's attribute sets).
const SUCCESS = 0;
const FAILURE = 1;
const IGNORED = 2;
const REJECTED = 3;

/** A point-in-time view of a breaker, from {@link CircuitBreaker.metrics}. */
export interface BreakerMetrics {
  readonly state: BreakerStateName;
  /** Calls in the window (in HALF_OPEN: finished trial calls). */
  readonly calls: number;
  readonly failedCalls: number;
  readonly slowCalls: number;
  /** failedCalls / calls, 0 when there are no calls. */
  readonly failureRate: number;
  /** slowCalls / calls, 0 when there are no calls. */
  readonly slowCallRate: number;
  /** Failures in a row (`consecutive` window only, else 0). */
  readonly consecutiveFailures: number;
  /** Calls rejected since the breaker was created. */
  readonly rejectedCalls: number;
  /** Times it opened since it last closed. */
  readonly openedCount: number;
  /** Held open by `isolate()`. */
  readonly isolated: boolean;
}

/** Calls after which a breaker caches its completion handlers (see `execute`). */
const HOT = 16;

/**
 * The handlers that book a call's outcome, for one epoch: `ok` returns the result and `fail`
 * rethrows the error, so the promise they derive settles like the work's.
 */
interface Observers {
  readonly ok: (result: unknown) => unknown;
  readonly fail: (error: unknown) => never;
}

/** Trial bookkeeping of one HALF_OPEN period. */
interface Trials {
  admitted: number;
  done: number;
  failures: number;
  slow: number;
}

/** Isolation bookkeeping: how many handles, and which state to return to. */
interface Isolation {
  handles: number;
  readonly before: number;
}

/** The fields of a breaker that has opened, rejected or been isolated at least once. */
class Cold {
  /** OPEN: clock time when it may half-open. HALF_OPEN: deadline from `maxWaitInHalfOpenMs`. */
  until = 0;
  openedCount = 0;
  rejected = 0;
  trials: Trials | undefined = undefined;
  isolation: Isolation | undefined = undefined;
  /** The state `close()` found (reported by `state` once SHUT). */
  shutIn = CLOSED;
}

/** The sliding window the options ask for (count or time). */
function newWindow(o: ResolvedBreakerOptions, successes = 0): SlidingWindow {
  return o.windowType === 'count'
    ? new CountWindow(o.windowSize, successes)
    : new TimeWindow(o.windowMs, o.windowBuckets);
}

/**
 * The context of a call made without options: attempt 1 and a signal that never aborts. Shared by
 * every such call, so each read of `signal` returns a new one: listeners that work adds to it are
 * collected with it instead of piling up on one shared signal.
 */
class FirstAttempt implements AttemptContext {
  readonly attempt = 1;
  get signal(): AbortSignal {
    return new AbortController().signal;
  }
}
const FIRST_ATTEMPT: AttemptContext = new FirstAttempt();

const CLOSED_TELEMETRY = { count() {}, close() {} } as unknown as BreakerTelemetry;

/**
 * A circuit breaker: it watches the outcome of calls to a dependency and, when too many fail or
 * are slow, refuses calls for a while (OPEN) instead of piling more load on it, then lets a few
 * trial calls through (HALF_OPEN) to decide whether to close again.
 *
 * Every call is O(1) work in every state; the breaker starts no timer (OPEN → HALF_OPEN happens
 * on the next call after `openMs`). Create one with {@link circuitBreaker}, or many with
 * `createBreakerRegistry()`.
 */
export class CircuitBreaker implements Policy, AsyncDisposable {
  /** Name used in errors, events and telemetry (the key, for a registry's breakers). */
  readonly name: string;
  readonly #options: ResolvedBreakerOptions;
  #state = CLOSED;
  /** Bumped on every transition: a call admitted under another epoch is not recorded. */
  #epoch = 0;
  /**
   * `consecutive` window: failures in a row. `count` window: successes recorded before the first
   * bad call made a window necessary (capped at `windowSize`).
   */
  #runCount = 0;
  #window: SlidingWindow | undefined = undefined;
  /**
   * Untimed calls seen, counted up to {@link HOT}; then the completion handlers of the current
   * epoch (dropped on every transition, rebuilt on the next call).
   */
  #hot: Observers | number = 0;
  /**
   * Set while a call without options needs nothing but a rejection handler (CLOSED, unchained, a
   * success changes nothing): that handler, so `execute` can skip every other check. Cleared by
   * anything that could change the answer (a booking, a transition, a listener, `close()`).
   */
  #quickFail: Observers['fail'] | undefined = undefined;
  /** State that only a breaker that has opened or rejected needs (keeps healthy breakers small). */
  #cold: Cold | undefined = undefined;
  #events: BreakerEvents | undefined = undefined;
  /** `undefined`: not looked up yet; `null`: no metrics SDK. */
  #otel: BreakerTelemetry | null | undefined = undefined;

  /**
   * @param options validated here (throws `InvalidOptionsError`, code `INVALID_OPTIONS`).
   * @param name overrides `options.name`.
   */
  constructor(options?: BreakerOptions, name?: string) {
    const o = isResolvedBreakerOptions(options) ? options : resolveBreakerOptions(options);
    this.#options = o;
    this.name = name ?? o.name;
  }

  /** The current state. OPEN turns into HALF_OPEN on the first call after `openMs`, not before. */
  get state(): BreakerStateName {
    return STATE_NAMES[this.#state === SHUT ? this.#coldFields().shutIn : this.#state]!;
  }

  /** The state as a number (0 CLOSED … 5 METRICS_ONLY), as the state gauge reports it. */
  get stateCode(): number {
    return this.#state;
  }

  /**
   * Runs `fn` through the breaker. `fn` receives `{ signal, attempt }`. Rejects at once, without
   * calling `fn`, with `BreakerOpenError` (OPEN, FORCED_OPEN, HALF_OPEN with every trial slot
   * taken), `BreakerIsolatedError` (after `isolate()`), or `AbortedError` when `signal` is aborted.
   * Otherwise settles like `fn`, through a promise of its own (a rejection nobody handles surfaces
   * as an unhandled rejection). A call that fails once its `signal` has aborted, or with an
   * `ABORTED` error, is ignored unless `recordAborts` is set.
   */
  execute<T>(fn: Work<T>, options?: ExecuteOptions): Promise<T> {
    const quickFail = this.#quickFail;
    if (quickFail !== undefined && options === undefined && typeof fn === 'function') {
      let pending: T | PromiseLike<T>;
      try {
        pending = fn(FIRST_ATTEMPT);
      } catch (error) {
        this.#settleError(error, -1, this.#epoch, undefined);
        return Promise.reject(error);
      }
      const promise = pending instanceof Promise ? pending : Promise.resolve(pending);
      return promise.then(undefined, quickFail) as Promise<T>;
    }
    if (typeof fn !== 'function') return Promise.reject(callError(fn, options));
    if (options !== undefined) {
      const invalid = callError(fn, options);
      if (invalid !== undefined) return Promise.reject(invalid);
      const source = sourceOf(options);
      if (source?.aborted) return Promise.reject(abortError(source));
    }
    const state = this.#state;
    if (state !== CLOSED && state !== METRICS_ONLY) {
      if (state === DISABLED) return attempt(fn, contextFor(options));
      const refusal = this.#admit(state);
      if (refusal !== undefined) return Promise.reject(refusal);
    }
    const epoch = this.#epoch;
    if (this.#options.chained || this.#events?.timed === true)
      return this.#chainedCall(fn, options, epoch);
    let pending: T | PromiseLike<T>;
    try {
      pending = fn(options === undefined ? FIRST_ATTEMPT : contextFor(options));
    } catch (error) {
      this.#settleError(error, -1, epoch, options);
      return Promise.reject(error);
    }
    const promise = pending instanceof Promise ? (pending as Promise<T>) : Promise.resolve(pending);
    // No async frame: one `then` on the work's promise books the outcome and settles the promise
    // the caller gets like the work's (so a rejection nobody handles still surfaces as Node's
    // unhandled rejection). A hot breaker reuses one handler pair per epoch; a cold one makes a
    // pair per call and keeps nothing, so idle breakers stay small. Only a call that carries a
    // signal needs its own rejection handler, to see whether that signal aborted.
    let observers = this.#hot;
    if (typeof observers === 'number') {
      const fresh = this.#observers(epoch);
      this.#hot = observers < HOT ? observers + 1 : fresh;
      observers = fresh;
    }
    const quiet = state === CLOSED && this.#successChangesNothing();
    if (quiet && options === undefined && observers === this.#hot) this.#quickFail = observers.fail;
    return promise.then(
      quiet ? undefined : observers.ok,
      options === undefined
        ? observers.fail
        : (error: unknown) => {
            this.#settleError(error, -1, epoch, options);
            throw error;
          },
    ) as Promise<T>;
  }

  /**
   * True in CLOSED when booking a success would change nothing: no telemetry SDK, no listener, and
   * a count window that holds only successes (its count is full) or a consecutive run at zero.
   * The caller's promise then settles without a fulfilment handler at all.
   */
  #successChangesNothing(): boolean {
    if (this.#otel !== null || this.#events !== undefined || this.#window !== undefined) {
      return false;
    }
    const o = this.#options;
    if (o.windowType === 'count') return this.#runCount >= o.windowSize;
    return o.windowType === 'consecutive' && this.#runCount === 0;
  }

  /**
   * The pair that books the outcome of an unchained call without options (see
   * {@link Observers}). Unchained means no `isFailureResult`: a result is a success.
   */
  #observers(epoch: number): Observers {
    return {
      ok: (result: unknown) => {
        this.#settle(SUCCESS, -1, epoch, undefined, undefined, false);
        return result;
      },
      fail: (error: unknown) => {
        this.#settleError(error, -1, epoch, undefined);
        throw error;
      },
    };
  }

  /**
   * A call whose duration matters (slow-call threshold, duration listeners) or whose outcome goes
   * through predicates: the caller gets a promise chained after the booking, so a predicate that
   * throws rejects the call with its error (the call is then not recorded).
   */
  #chainedCall<T>(fn: Work<T>, options: ExecuteOptions | undefined, epoch: number): Promise<T> {
    const start =
      this.#options.tracksSlowCalls || this.#events?.timed === true
        ? this.#options.clock.now()
        : -1;
    let pending: T | PromiseLike<T>;
    try {
      pending = fn(options === undefined ? FIRST_ATTEMPT : contextFor(options));
    } catch (error) {
      try {
        this.#settleError(error, start, epoch, options);
      } catch (predicateError) {
        return Promise.reject(predicateError);
      }
      return Promise.reject(error);
    }
    return Promise.resolve(pending).then(
      (result: T) => {
        this.#settleResult(result, start, epoch);
        return result;
      },
      (error: unknown) => {
        this.#settleError(error, start, epoch, options);
        throw error;
      },
    );
  }

  #settleResult(result: unknown, start: number, epoch: number): void {
    const isFailureResult = this.#options.isFailureResult;
    if (isFailureResult?.(result)) this.#settle(FAILURE, start, epoch, undefined, result, true);
    else this.#settle(SUCCESS, start, epoch, undefined, undefined, false);
  }

  /** Admission outside CLOSED/METRICS_ONLY/DISABLED: `undefined` admits, an error refuses. */
  #admit(current: number): BreakerOpenError | BreakerIsolatedError | PolicyClosedError | undefined {
    if (current === SHUT) return new PolicyClosedError('circuitBreaker', this.name);
    const o = this.#options;
    const cold = this.#coldFields();
    if (current === FORCED_OPEN) return this.#reject(FORCED_OPEN, undefined);
    if (current === OPEN) {
      const now = o.clock.now();
      if (now < cold.until) return this.#reject(OPEN, cold.until - now);
      this.#enterHalfOpen(now, 'open-elapsed');
    } else if (cold.until !== Number.POSITIVE_INFINITY) {
      // HALF_OPEN with maxWaitInHalfOpenMs: trials that take too long reopen the breaker.
      const now = o.clock.now();
      if (now >= cold.until) {
        this.#open(now, 'half-open-timeout');
        return this.#reject(OPEN, cold.until - now);
      }
    }
    const trials = cold.trials!;
    if (trials.admitted < o.halfOpenCalls) {
      trials.admitted++;
      return undefined;
    }
    const retryAfterMs =
      cold.until !== Number.POSITIVE_INFINITY
        ? cold.until - o.clock.now()
        : this.#openMsFor(cold.openedCount + 1);
    return this.#reject(HALF_OPEN, retryAfterMs);
  }

  #reject(
    state: number,
    retryAfterMs: number | undefined,
  ): BreakerOpenError | BreakerIsolatedError {
    this.#coldFields().rejected++;
    const error =
      this.#cold?.isolation !== undefined
        ? new BreakerIsolatedError(this.name)
        : new BreakerOpenError(this.name, STATE_NAMES[state]!, retryAfterMs);
    this.#count(REJECTED, false);
    this.#events?.rejected.emit({ breaker: this.name, error });
    return error;
  }

  /**
   * Books a call that failed with `error`. The caller giving up (an `ABORTED` error, or the call's
   * signal aborted by the caller or an outer policy) says nothing about the dependency: such a
   * call is ignored unless `recordAborts` is set. Read only here, on the error path.
   */
  #settleError(
    error: unknown,
    start: number,
    epoch: number,
    options: ExecuteOptions | undefined,
  ): void {
    const o = this.#options;
    if (
      (!o.recordAborts &&
        (isBreakerError(error, 'ABORTED') ||
          (options !== undefined && sourceOf(options)?.aborted === true))) ||
      o.ignoreError?.(error)
    ) {
      this.#settle(IGNORED, start, epoch, error, undefined, false);
    } else if (o.recordError === undefined || o.recordError(error)) {
      this.#settle(FAILURE, start, epoch, error, undefined, false);
    } else {
      this.#settle(SUCCESS, start, epoch, undefined, undefined, false);
    }
  }

  /** Books one finished call: telemetry, events, then the window (which may change the state). */
  #settle(
    outcome: number,
    start: number,
    epoch: number,
    error: unknown,
    result: unknown,
    fromResult: boolean,
  ): void {
    this.#quickFail = undefined;
    const o = this.#options;
    let now = -1;
    let durationMs = Number.NaN;
    let slow = false;
    if (start >= 0) {
      now = o.clock.now();
      durationMs = now - start;
      slow = durationMs > o.slowCallDurationMs;
    }
    if (this.#otel !== null) this.#count(outcome, slow);
    const events = this.#events;
    if (events !== undefined)
      this.#emitCall(events, outcome, durationMs, slow, error, result, fromResult);
    if (epoch !== this.#epoch) return; // admitted before a transition: stale
    if (this.#state === HALF_OPEN) {
      if (outcome === IGNORED)
        this.#coldFields().trials!.admitted--; // give the trial slot back
      else this.#recordTrial(outcome === FAILURE, slow);
    } else if (outcome !== IGNORED) {
      this.#record((outcome === FAILURE ? FAILED : 0) | (slow ? SLOW : 0), now);
    }
  }

  #emitCall(
    events: BreakerEvents,
    outcome: number,
    durationMs: number,
    slow: boolean,
    error: unknown,
    result: unknown,
    fromResult: boolean,
  ): void {
    const breaker = this.name;
    if (outcome === SUCCESS) events.success.emit({ breaker, durationMs, slow });
    else if (outcome === FAILURE) {
      events.failure.emit({ breaker, durationMs, slow, error, result, fromResult });
    } else events.ignored.emit({ breaker, durationMs, slow, error });
    if (slow) events.slowCall.emit({ breaker, durationMs, failed: outcome === FAILURE });
  }

  /** Records a call finished in CLOSED or METRICS_ONLY and trips the breaker if it must. */
  #record(bits: number, now: number): void {
    const o = this.#options;
    if (o.windowType === 'consecutive') {
      if (bits === 0) {
        this.#runCount = 0;
      } else if (++this.#runCount >= o.consecutiveFailures && this.#state === CLOSED) {
        this.#open(o.clock.now(), 'consecutive-failures');
      }
      return;
    }
    let window = this.#window;
    if (window === undefined) {
      if (bits === 0 && o.windowType === 'count') {
        // Only successes so far: a count is all the window would hold, and they cannot trip it.
        if (this.#runCount < o.windowSize) this.#runCount++;
        return;
      }
      window = newWindow(o, this.#runCount);
      this.#runCount = 0;
      this.#window = window;
    }
    if (now < 0 && o.windowType === 'time') now = o.clock.now();
    window.record(bits, now);
    if (this.#state !== CLOSED) return;
    const calls = window.calls;
    if (calls < o.minimumCalls) return;
    if (window.failures / calls >= o.failureRateThreshold) {
      this.#open(o.clock.now(), 'failure-rate');
    } else if (window.slow > 0 && window.slow / calls >= o.slowCallRateThreshold) {
      this.#open(o.clock.now(), 'slow-call-rate');
    }
  }

  #recordTrial(failed: boolean, slow: boolean): void {
    const o = this.#options;
    const trials = this.#coldFields().trials!;
    trials.done++;
    if (failed) trials.failures++;
    if (slow) trials.slow++;
    const n = o.halfOpenCalls;
    // The rates over the n trials can only grow, so a threshold reached early decides at once.
    if (
      trials.failures / n >= o.failureRateThreshold ||
      (trials.slow > 0 && trials.slow / n >= o.slowCallRateThreshold)
    ) {
      this.#open(o.clock.now(), 'trials-failed');
    } else if (trials.done >= n) {
      this.#enterClosed(CLOSED, 'trials-passed');
    }
  }

  #openMsFor(openedCount: number): number {
    const openMs = this.#options.openMs;
    if (typeof openMs === 'number') return openMs;
    const ms = openMs(openedCount);
    // A backoff function that returns garbage must not wedge the breaker: NaN or < 0 means 0.
    return typeof ms === 'number' && ms >= 0 ? ms : 0;
  }

  #open(now: number, reason: TransitionReason): void {
    const cold = this.#coldFields();
    cold.openedCount++;
    cold.until = now + this.#openMsFor(cold.openedCount);
    cold.trials = undefined;
    this.#setState(OPEN, reason);
  }

  #enterHalfOpen(now: number, reason: TransitionReason): void {
    const cold = this.#coldFields();
    cold.until = now + this.#options.maxWaitInHalfOpenMs;
    cold.trials = { admitted: 0, done: 0, failures: 0, slow: 0 };
    this.#setState(HALF_OPEN, reason);
  }

  /** Forgets every recorded call; calls in flight are no longer recorded (a new epoch). */
  #emptyWindow(): void {
    this.#window?.reset();
    this.#runCount = 0;
    this.#epoch++;
    this.#quickFail = undefined;
    if (typeof this.#hot !== 'number') this.#hot = HOT;
  }

  /** Enters CLOSED or METRICS_ONLY with an empty window. */
  #enterClosed(state: number, reason: TransitionReason): void {
    this.#window?.reset();
    this.#runCount = 0;
    const cold = this.#cold;
    if (cold !== undefined) {
      if (state === CLOSED) cold.openedCount = 0;
      cold.trials = undefined;
    }
    this.#setState(state, reason);
  }

  #setState(state: number, reason: TransitionReason): void {
    const from = this.#state;
    this.#state = state;
    this.#epoch++;
    this.#quickFail = undefined;
    if (typeof this.#hot !== 'number') this.#hot = HOT;
    if (this.#otel === null) this.#otel = undefined; // an SDK may have been registered since
    const fromName = STATE_NAMES[from]!;
    const toName = STATE_NAMES[state]!;
    spanStateChange(this.name, fromName, toName, reason);
    this.#events?.stateChange.emit({ breaker: this.name, from: fromName, to: toName, reason });
  }

  #enter(state: number, reason: TransitionReason): void {
    if (state === this.#state) return;
    switch (state) {
      case CLOSED:
      case METRICS_ONLY:
        this.#enterClosed(state, reason);
        break;
      case OPEN:
        this.#open(this.#options.clock.now(), reason);
        break;
      case HALF_OPEN:
        this.#enterHalfOpen(this.#options.clock.now(), reason);
        break;
      default:
        if (this.#cold !== undefined) this.#cold.trials = undefined;
        this.#setState(state, reason);
    }
  }

  #count(outcome: number, slow: boolean): void {
    let otel = this.#otel;
    if (otel === undefined) {
      otel = telemetryFor(this);
      this.#otel = otel;
    }
    otel?.count(outcome, slow);
  }

  /**
   * Moves the breaker to `state` by hand (reason `manual`). CLOSED and METRICS_ONLY start with an
   * empty window; OPEN starts a new open period. Throws `BreakerIsolatedError` while `isolate()`
   * handles are held, `InvalidOptionsError` for an unknown state.
   */
  transitionTo(state: BreakerStateName): void {
    this.#refuseIfShut();
    const code = STATE_NAMES.indexOf(state);
    if (code < 0) {
      throw new InvalidOptionsError({
        option: 'state',
        received: state,
        message: `transitionTo(): unknown state ${JSON.stringify(state)}; use one of ${STATE_NAMES.join(', ')}.`,
      });
    }
    if (this.#cold?.isolation !== undefined) throw new BreakerIsolatedError(this.name);
    if (code === this.#state && (code === CLOSED || code === METRICS_ONLY)) {
      // Already there: still start over with an empty window, as documented (no state change).
      this.#emptyWindow();
      return;
    }
    this.#enter(code, 'manual');
  }

  /**
   * Holds the breaker open (FORCED_OPEN; calls fail with `BreakerIsolatedError`, code
   * `BREAKER_ISOLATED`) until every handle returned so far is disposed. Then it returns to
   * FORCED_OPEN, DISABLED or METRICS_ONLY if it was in one of those, else to a fresh CLOSED.
   */
  isolate(): Subscription {
    this.#refuseIfShut();
    const cold = this.#coldFields();
    if (cold.isolation !== undefined) {
      cold.isolation.handles++;
    } else {
      cold.isolation = { handles: 1, before: this.#state };
      this.#enter(FORCED_OPEN, 'isolated');
    }
    let held = true;
    const dispose = (): void => {
      if (!held) return;
      held = false;
      const current = cold.isolation!;
      if (--current.handles > 0) return;
      cold.isolation = undefined;
      const before = current.before;
      const back = before >= FORCED_OPEN ? before : CLOSED;
      if (back === FORCED_OPEN) return; // it was forced open before: stay so
      this.#enter(back, 'isolation-released');
    };
    return { dispose, [Symbol.dispose]: dispose };
  }

  /** Counts and rates of the current window (in HALF_OPEN: of the finished trial calls). */
  metrics(): BreakerMetrics {
    let calls = 0;
    let failedCalls = 0;
    let slowCalls = 0;
    const trials = this.#cold?.trials;
    if (this.#state === HALF_OPEN && trials !== undefined) {
      calls = trials.done;
      failedCalls = trials.failures;
      slowCalls = trials.slow;
    } else if (this.#window === undefined) {
      if (!this.#consecutiveMode) calls = this.#runCount;
    } else {
      const window = this.#window;
      if (this.#options.windowType === 'time') window.rotate(this.#options.clock.now());
      calls = window.calls;
      failedCalls = window.failures;
      slowCalls = window.slow;
    }
    return {
      state: this.state,
      calls,
      failedCalls,
      slowCalls,
      failureRate: calls === 0 ? 0 : failedCalls / calls,
      slowCallRate: calls === 0 ? 0 : slowCalls / calls,
      consecutiveFailures: this.#consecutiveMode ? this.#runCount : 0,
      rejectedCalls: this.#cold?.rejected ?? 0,
      openedCount: this.#cold?.openedCount ?? 0,
      isolated: this.#cold?.isolation !== undefined,
    };
  }

  /**
   * A JSON-safe snapshot to persist or share (e.g. across restarts); load it with
   * {@link hydrate}. Times are this breaker's clock times (`Date.now()` by default).
   */
  toJSON(): BreakerSnapshot {
    return {
      version: 1,
      name: this.name,
      state: this.state,
      openedCount: this.#cold?.openedCount ?? 0,
      openUntil: this.#state === OPEN ? this.#coldFields().until : null,
      consecutiveFailures: this.#consecutiveMode ? this.#runCount : 0,
      rejectedCalls: this.#cold?.rejected ?? 0,
      window: this.#windowSnapshot(),
    };
  }

  get #consecutiveMode(): boolean {
    return this.#options.windowType === 'consecutive';
  }

  #windowSnapshot(): WindowSnapshot | null {
    if (this.#consecutiveMode) return null;
    const window =
      this.#window ?? (this.#runCount > 0 ? newWindow(this.#options, this.#runCount) : undefined);
    return window !== undefined && window.calls > 0 ? window.toJSON() : null;
  }

  /**
   * Loads a snapshot from {@link toJSON}: state, open deadline, counters and the window (a
   * window of another type or size is dropped). Calls in flight are no longer recorded; a
   * HALF_OPEN snapshot starts a fresh set of trials. Throws `InvalidSnapshotError` (code
   * `INVALID_SNAPSHOT`) for anything else, `BreakerIsolatedError` while isolated.
   */
  hydrate(snapshot: BreakerSnapshot): void {
    const parsed = parseSnapshot(snapshot);
    this.#refuseIfShut();
    if (this.#cold?.isolation !== undefined) throw new BreakerIsolatedError(this.name);
    const o = this.#options;
    const state = STATE_NAMES.indexOf(parsed.state);
    const cold = this.#coldFields();
    cold.trials = undefined;
    cold.openedCount = parsed.openedCount;
    cold.rejected = parsed.rejectedCalls;
    if (state === OPEN) cold.until = parsed.openUntil!;
    if (state === HALF_OPEN) {
      cold.until = o.clock.now() + o.maxWaitInHalfOpenMs;
      cold.trials = { admitted: 0, done: 0, failures: 0, slow: 0 };
    }
    this.#window?.reset();
    this.#runCount = this.#consecutiveMode ? parsed.consecutiveFailures : 0;
    if (parsed.window !== null && !this.#consecutiveMode) {
      const window = this.#window ?? newWindow(o);
      if (window.restore(parsed.window)) this.#window = window;
    }
    this.#setState(state, 'hydrated'); // bumps the epoch: calls in flight are not recorded
  }

  /** Subscribes to state changes. */
  onStateChange(listener: Listener<StateChangeEvent>): Subscription {
    return this.#listeners().stateChange.add(listener);
  }

  /** Subscribes to successful calls (including errors that `recordError` does not record). */
  onSuccess(listener: Listener<SuccessEvent>): Subscription {
    return this.#listeners().success.add(listener);
  }

  /** Subscribes to failed calls (recorded errors and results flagged by `isFailureResult`). */
  onFailure(listener: Listener<FailureEvent>): Subscription {
    return this.#listeners().failure.add(listener);
  }

  /**
   * Subscribes to ignored calls: errors `ignoreError` excluded, and calls the caller aborted
   * (unless `recordAborts` is set).
   */
  onIgnored(listener: Listener<IgnoredEvent>): Subscription {
    return this.#listeners().ignored.add(listener);
  }

  /** Subscribes to calls refused without running (open, forced open, isolated, half-open full). */
  onRejected(listener: Listener<RejectedEvent>): Subscription {
    return this.#listeners().rejected.add(listener);
  }

  /** Subscribes to calls slower than `slowCallDurationMs` (whether they succeeded or not). */
  onSlowCall(listener: Listener<SlowCallEvent>): Subscription {
    return this.#listeners().slowCall.add(listener);
  }

  #refuseIfShut(): void {
    if (this.#state === SHUT) throw new PolicyClosedError('circuitBreaker', this.name);
  }

  #coldFields(): Cold {
    let cold = this.#cold;
    if (cold === undefined) {
      cold = new Cold();
      this.#cold = cold;
    }
    return cold;
  }

  #listeners(): BreakerEvents {
    let events = this.#events;
    if (events === undefined) {
      events = new BreakerEvents();
      this.#events = events;
      this.#quickFail = undefined;
    }
    return events;
  }

  /**
   * Closes the breaker: later calls are refused with `PolicyClosedError` (code `POLICY_CLOSED`),
   * calls in flight finish but are no longer recorded, every listener is dropped and the breaker
   * leaves the state gauge. It holds no timer or socket. Idempotent.
   */
  close(): void {
    if (this.#state === SHUT) return;
    this.#coldFields().shutIn = this.#state;
    this.#state = SHUT;
    this.#epoch++;
    for (const list of this.#events?.all() ?? []) list.clear();
    this.#otel?.close();
    this.#otel = CLOSED_TELEMETRY;
    this.#quickFail = undefined;
  }

  /** Same as {@link close}. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.close();
  }
}

/**
 * Creates a {@link CircuitBreaker}. Options are validated here: a bad one throws
 * `InvalidOptionsError` (code `INVALID_OPTIONS`) naming it.
 *
 * @example
 * const breaker = circuitBreaker({ failureRateThreshold: 0.5, openMs: 10_000 });
 * const user = await breaker.execute(({ signal }) => fetchUser(id, { signal }));
 */
export function circuitBreaker(options?: BreakerOptions): CircuitBreaker {
  return new CircuitBreaker(options);
}
