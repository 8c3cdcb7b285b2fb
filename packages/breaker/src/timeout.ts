import { attempt, type Clock, o, systemClock } from '@ballast/kernel';
import { abortError, attemptOf, callError, Scope, sourceOf } from './abort.ts';
import { type DeadlineEntry, DeadlineTimer } from './deadline-timer.ts';
import { AbortedError, isBreakerError, PolicyClosedError, TimeoutError } from './errors.ts';
import type { ExecuteOptions, Policy, Work } from './policy.ts';
import { clockSchema, finite, parseOptions } from './validate.ts';

const timeoutSchema = o.object({
  timeoutMs: finite({ gt: 0 }),
  strategy: o.oneOf(['cooperative', 'aggressive']).default('cooperative'),
  clock: clockSchema.optional(),
});

/** Options of {@link timeout}. */
export interface TimeoutOptions {
  /** Deadline of each call, in milliseconds (> 0). */
  timeoutMs: number;
  /**
   * `cooperative` (default): at the deadline the work's `signal` aborts with a `TimeoutError` and
   * the policy waits for the work to settle (a value that still arrives is returned).
   * `aggressive`: additionally rejects with the `TimeoutError` at once, without waiting.
   */
  strategy?: 'cooperative' | 'aggressive' | undefined;
  /** Time source (tests inject a manual clock). Default: the system clock. */
  clock?: Clock | undefined;
}

/** One call under a timeout: its abort scope and its deadline entry. */
class TimeoutCall extends Scope implements DeadlineEntry {
  deadline = 0;
  settled = false;
  timedOut = false;
  readonly timeoutMs: number;

  constructor(options: ExecuteOptions | undefined, timeoutMs: number) {
    super(sourceOf(options), attemptOf(options));
    this.timeoutMs = timeoutMs;
  }

  expire(): void {
    this.timedOut = true;
    this.abort(new TimeoutError(this.timeoutMs));
  }
}

/**
 * A policy that bounds how long each call may take. The work receives an `AbortSignal` that
 * aborts at the deadline (or when the caller aborts); after a successful call nothing is aborted.
 * All calls through one policy share a single `unref()`ed ticking timer, so a call costs no timer
 * and no clock read of its own; a deadline never fires early and at most two ticks
 * (`timeoutMs / 32` each, at least 1 ms) late.
 */
export class TimeoutPolicy implements Policy {
  /** The deadline of each call, in milliseconds. */
  readonly timeoutMs: number;
  /** `cooperative` or `aggressive`, see {@link TimeoutOptions.strategy}. */
  readonly strategy: 'cooperative' | 'aggressive';
  readonly #timer: DeadlineTimer;
  #closed = false;

  constructor(options: TimeoutOptions) {
    const parsed = parseOptions(timeoutSchema, options, 'timeout()');
    this.timeoutMs = parsed.timeoutMs;
    this.strategy = parsed.strategy;
    this.#timer = new DeadlineTimer(parsed.clock ?? systemClock, parsed.timeoutMs);
  }

  /** Calls currently running under this policy. */
  get pending(): number {
    return this.#timer.pending;
  }

  /** Runs `fn` under the deadline; rejects with `TimeoutError` (code `TIMEOUT`) when it passes. */
  execute<T>(fn: Work<T>, options?: ExecuteOptions): Promise<T> {
    if (this.#closed) return Promise.reject(new PolicyClosedError('timeout'));
    const invalid = callError(fn, options);
    if (invalid !== undefined) return Promise.reject(invalid);
    const call = new TimeoutCall(options, this.timeoutMs);
    if (call.aborted) return Promise.reject(abortError(call));
    this.#timer.add(call);
    return this.strategy === 'cooperative'
      ? this.#cooperative(call, fn)
      : this.#aggressive(call, fn);
  }

  /**
   * Closes the policy: later calls are refused with `PolicyClosedError` (code `POLICY_CLOSED`);
   * calls still running keep their deadline; the shared timer stops once none is pending.
   */
  close(): void {
    this.#closed = true;
    this.#timer.close();
  }

  /** Same as {@link close}. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.close();
  }

  async #cooperative<T>(call: TimeoutCall, fn: Work<T>): Promise<T> {
    try {
      return await fn(call);
    } catch (error) {
      if (!call.timedOut || error === call.reason) throw error;
      // The work failed its own way after the deadline: report the timeout, keep its error.
      throw new TimeoutError(this.timeoutMs, { cause: error });
    } finally {
      this.#timer.remove(call);
      call.close();
    }
  }

  #aggressive<T>(call: TimeoutCall, fn: Work<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const finish = () => {
        this.#timer.remove(call);
        call.close();
      };
      call.onAbort((reason) => {
        finish();
        reject(isBreakerError(reason) ? reason : new AbortedError(reason));
      });
      attempt(fn, call).then(
        (value) => {
          finish();
          resolve(value);
        },
        (error: unknown) => {
          finish();
          reject(error);
        },
      );
    });
  }
}

/**
 * Creates a {@link TimeoutPolicy}: `timeout({ timeoutMs: 2_000 })`.
 * @throws InvalidOptionsError (code `INVALID_OPTIONS`) naming the bad option.
 */
export function timeout(options: TimeoutOptions): TimeoutPolicy {
  return new TimeoutPolicy(options);
}
