/**
 * Runs `fn(...args)` and returns its result as a promise: a synchronous throw becomes a rejection,
 * so callers handle one failure channel.
 */
export function attempt<A extends unknown[], T>(
  fn: (...args: A) => T | PromiseLike<T>,
  ...args: A
): Promise<T> {
  try {
    return Promise.resolve(fn(...args));
  } catch (error) {
    return Promise.reject(error);
  }
}

/** Throws the signal's reason when it has aborted. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw signal.reason;
}

/**
 * The error to reject with when `signal` aborted: its reason when that is an `Error`, else a
 * `DOMException` named `AbortError` carrying the reason as `cause`.
 */
export function abortError(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  if (reason instanceof Error) return reason;
  return Object.assign(new DOMException('The operation was aborted.', 'AbortError'), {
    cause: reason,
  });
}

/**
 * Settles like `promise`, or rejects with `toError(signal)` as soon as `signal` aborts, whichever
 * comes first. The listener is removed when the race ends, so a long-lived signal keeps nothing.
 */
export function raceAbort<T>(
  promise: PromiseLike<T>,
  signal: AbortSignal | undefined,
  toError: (signal: AbortSignal) => unknown = abortError,
): Promise<T> {
  if (signal === undefined) return Promise.resolve(promise);
  if (signal.aborted) return Promise.reject(toError(signal));
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(toError(signal));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

/**
 * One signal that aborts when any of `signals` does (undefined entries are skipped); the signal
 * itself when there is only one, `undefined` when there is none.
 */
export function anySignal(
  ...signals: readonly (AbortSignal | undefined)[]
): AbortSignal | undefined {
  const present = signals.filter((signal): signal is AbortSignal => signal !== undefined);
  if (present.length <= 1) return present[0];
  return AbortSignal.any(present);
}
