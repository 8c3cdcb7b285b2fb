const BRAND = Symbol.for('@ballast/idempotency.error');

/** Stable codes of every error this package throws (and of the problem responses it sends). */
export type IdempotencyErrorCode =
  | 'INVALID_OPTIONS'
  | 'IDEMPOTENCY_KEY_MISSING'
  | 'IDEMPOTENCY_KEY_INVALID'
  | 'IDEMPOTENCY_KEY_REUSED'
  | 'IDEMPOTENCY_KEY_IN_PROGRESS'
  | 'STORE_UNAVAILABLE'
  | 'STORE_FULL'
  | 'REQUEST_TOO_LARGE'
  | 'ABORTED';

/**
 * Base class of every error thrown by `@ballast/idempotency`. Carries a stable `code`; use
 * {@link isIdempotencyError} rather than `instanceof` so that a check still works when two copies
 * of the package are installed.
 */
export class IdempotencyError extends Error {
  /** Stable machine-readable code, e.g. `IDEMPOTENCY_KEY_REUSED`. */
  readonly code: IdempotencyErrorCode;
  declare readonly [BRAND]: true;

  constructor(code: IdempotencyErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
    Object.defineProperty(this, BRAND, { value: true });
  }
}

/** True when `error` was thrown by any copy of `@ballast/idempotency`; narrows by `code` when given. */
export function isIdempotencyError<C extends IdempotencyErrorCode>(
  error: unknown,
  code?: C,
): error is IdempotencyError & { code: C } {
  return (
    typeof error === 'object' &&
    error !== null &&
    (error as Record<symbol, unknown>)[BRAND] === true &&
    (code === undefined || (error as IdempotencyError).code === code)
  );
}

/** The error an aborted operation rejects with (keeps the signal's reason as `cause`). */
export function abortError(signal: AbortSignal): IdempotencyError {
  return new IdempotencyError('ABORTED', 'The operation was aborted by its AbortSignal.', {
    cause: signal.reason,
  });
}
