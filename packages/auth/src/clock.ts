/**
 * Where the verifier reads time and schedules its timeouts. Inject one (e.g. `ManualClock` from
 * the tests) to drive expiry, cooldowns and stale windows without waiting. `setTimeout` and
 * `clearTimeout` are optional; without them, real timers (unref'ed) are used for fetch timeouts.
 */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Runs `callback` after `ms` of this clock's time; returns a handle for `clearTimeout`. */
  setTimeout?(callback: () => void, ms: number): unknown;
  /** Cancels a callback scheduled with `setTimeout`. */
  clearTimeout?(handle: unknown): void;
}

/** The wall clock with real, unref'ed timers. @internal */
export const systemClock: Clock = { now: () => Date.now() };

/** Runs `callback` after `ms` on `clock`; returns a function that cancels it. @internal */
export function schedule(clock: Clock, callback: () => void, ms: number): () => void {
  if (clock.setTimeout && clock.clearTimeout) {
    const handle = clock.setTimeout(callback, ms);
    return () => clock.clearTimeout?.(handle);
  }
  const timer = setTimeout(callback, ms);
  timer.unref();
  return () => clearTimeout(timer);
}
