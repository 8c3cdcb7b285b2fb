/**
 * The time source of every timing decision in Ballast. Inject one (for example `ManualClock` from
 * the test helpers) to test timing logic without sleeping.
 */
export interface Clock {
  /** Milliseconds since the epoch (`Date.now()` for the real clock). */
  now(): number;
  /** Schedules `callback` after `ms`; the handle is passed back to {@link Clock.clearTimeout}. */
  setTimeout(callback: () => void, ms: number): unknown;
  /** Cancels a callback scheduled with {@link Clock.setTimeout}. */
  clearTimeout(handle: unknown): void;
}

/**
 * The real clock: `Date.now()` and Node timers. Its timers keep the process alive, because a delay
 * the caller awaits (a retry back-off, a wait for a lock) must not let the process exit under it;
 * background housekeeping passes its handle to {@link unrefTimer}.
 */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/**
 * Lets a timer's handle not keep the process alive (for background work nobody awaits: a cache
 * refresh, a heartbeat). Handles of other clocks are left alone. Returns the handle.
 */
export function unrefTimer<H>(handle: H): H {
  (handle as { unref?: () => void } | null)?.unref?.();
  return handle;
}

/** Options of {@link sleep}. */
export interface SleepOptions {
  /** The clock to wait on (default: {@link systemClock}). */
  clock?: Clock | undefined;
  /** Ends the wait early: the promise rejects with the signal's reason. */
  signal?: AbortSignal | undefined;
}

/**
 * Resolves after `ms` of `clock` time; rejects with `signal.reason` if the signal aborts first.
 * The timer keeps the process alive: the caller is waiting for it.
 */
export function sleep(ms: number, options: SleepOptions = {}): Promise<void> {
  const { clock = systemClock, signal } = options;
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise<void>((resolve, reject) => {
    const onAbort = (): void => {
      clock.clearTimeout(handle);
      reject(signal!.reason);
    };
    const handle = clock.setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
