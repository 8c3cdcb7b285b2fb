/**
 * The time source of every timing decision in this package. Inject one (for example
 * `ManualClock` from a test helper) to test timing logic without sleeping.
 */
export interface Clock {
  /** Milliseconds on a monotonic-enough scale; only differences are used. */
  now(): number;
  /** Schedules `callback` after `ms`; the handle is passed back to {@link Clock.clearTimeout}. */
  setTimeout(callback: () => void, ms: number): unknown;
  /** Cancels a callback scheduled with {@link Clock.setTimeout}. */
  clearTimeout(handle: unknown): void;
}

/** The real clock: `Date.now()` and `unref()`ed Node timers (they never keep a process alive). */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout(callback, ms) {
    const timer = setTimeout(callback, ms);
    timer.unref();
    return timer;
  },
  clearTimeout(handle) {
    clearTimeout(handle as NodeJS.Timeout);
  },
};
