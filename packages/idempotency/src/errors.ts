import { BallastError, errorGuard, invalidOptionsError } from '@ballast/kernel';

/** Stable codes of every error this package throws (and of the problem responses it sends). */
export type IdempotencyErrorCode =
  | 'INVALID_OPTIONS'
  | 'IDEMPOTENCY_KEY_MISSING'
  | 'IDEMPOTENCY_KEY_INVALID'
  | 'IDEMPOTENCY_KEY_REUSED'
  | 'IDEMPOTENCY_KEY_IN_PROGRESS'
  | 'SCOPE_MISSING'
  | 'RESULT_NOT_ENCODABLE'
  | 'STORE_UNAVAILABLE'
  | 'STORE_FULL'
  | 'STORE_CLOSED'
  | 'REQUEST_TOO_LARGE'
  | 'ABORTED';

/** What every error of this package accepts besides its message. */
export interface IdempotencyErrorOptions {
  /** The underlying error, if any. */
  cause?: unknown;
}

/**
 * Base class of every error thrown by `@ballast/idempotency`: a stable `code`, a message that says
 * what to do, and a `cause`. `instanceof` and {@link isIdempotencyError} work across two installed
 * copies of the package; there is one subclass per code.
 */
export class IdempotencyError<
  C extends IdempotencyErrorCode = IdempotencyErrorCode,
> extends BallastError<C> {
  static override readonly brand: symbol = Symbol.for('@ballast/idempotency.error');
}

/**
 * An option is missing, of the wrong type or out of range (thrown at construction); `.option` is
 * its dotted path (e.g. `lockTtlMs`, `(options)` for the object itself), `.received` the value passed.
 */
export class InvalidOptionsError extends invalidOptionsError(IdempotencyError) {}

/** A covered request has no key (400), or `idempotent()`'s `key` returned none. */
export class IdempotencyKeyMissingError extends IdempotencyError<'IDEMPOTENCY_KEY_MISSING'> {
  static override readonly code = 'IDEMPOTENCY_KEY_MISSING';
  constructor(message: string, options?: IdempotencyErrorOptions) {
    super('IDEMPOTENCY_KEY_MISSING', message, options);
  }
}

/** The key header is malformed (400). */
export class IdempotencyKeyInvalidError extends IdempotencyError<'IDEMPOTENCY_KEY_INVALID'> {
  static override readonly code = 'IDEMPOTENCY_KEY_INVALID';
  constructor(message: string, options?: IdempotencyErrorOptions) {
    super('IDEMPOTENCY_KEY_INVALID', message, options);
  }
}

/** The key was already used with a different request or different arguments (422). */
export class IdempotencyKeyReusedError extends IdempotencyError<'IDEMPOTENCY_KEY_REUSED'> {
  static override readonly code = 'IDEMPOTENCY_KEY_REUSED';
  constructor(message: string, options?: IdempotencyErrorOptions) {
    super('IDEMPOTENCY_KEY_REUSED', message, options);
  }
}

/** The first request or call with this key is still running (409). */
export class IdempotencyKeyInProgressError extends IdempotencyError<'IDEMPOTENCY_KEY_IN_PROGRESS'> {
  static override readonly code = 'IDEMPOTENCY_KEY_IN_PROGRESS';
  constructor(message: string, options?: IdempotencyErrorOptions) {
    super('IDEMPOTENCY_KEY_IN_PROGRESS', message, options);
  }
}

/**
 * A configured `scope` returned nothing (undefined, null or an empty string), so the request is
 * refused (500) rather than stored in a scope shared by every caller.
 */
export class ScopeMissingError extends IdempotencyError<'SCOPE_MISSING'> {
  static override readonly code = 'SCOPE_MISSING';
  constructor(message: string, options?: IdempotencyErrorOptions) {
    super('SCOPE_MISSING', message, options);
  }
}

/** `idempotent()` could not encode the result (a BigInt, a circular value); the key was released. */
export class ResultNotEncodableError extends IdempotencyError<'RESULT_NOT_ENCODABLE'> {
  static override readonly code = 'RESULT_NOT_ENCODABLE';
  constructor(message: string, options?: IdempotencyErrorOptions) {
    super('RESULT_NOT_ENCODABLE', message, options);
  }
}

/** The store failed, or did not answer in time (503). */
export class StoreUnavailableError extends IdempotencyError<'STORE_UNAVAILABLE'> {
  static override readonly code = 'STORE_UNAVAILABLE';
  constructor(message: string, options?: IdempotencyErrorOptions) {
    super('STORE_UNAVAILABLE', message, options);
  }
}

/** A memory store holds `maxKeys` running requests (503). */
export class StoreFullError extends IdempotencyError<'STORE_FULL'> {
  static override readonly code = 'STORE_FULL';
  constructor(message: string, options?: IdempotencyErrorOptions) {
    super('STORE_FULL', message, options);
  }
}

/** The store was closed (`close()`, `await using`): it refuses new work (503 from the adapters). */
export class StoreClosedError extends IdempotencyError<'STORE_CLOSED'> {
  static override readonly code = 'STORE_CLOSED';
  constructor(message: string, options?: IdempotencyErrorOptions) {
    super('STORE_CLOSED', message, options);
  }
}

/** The request body is over `maxRequestBodyBytes` (413; an answer, never thrown by the adapters). */
export class RequestTooLargeError extends IdempotencyError<'REQUEST_TOO_LARGE'> {
  static override readonly code = 'REQUEST_TOO_LARGE';
  constructor(message: string, options?: IdempotencyErrorOptions) {
    super('REQUEST_TOO_LARGE', message, options);
  }
}

/** An `AbortSignal` ended the wait or the call; `cause` is the signal's reason. */
export class AbortedError extends IdempotencyError<'ABORTED'> {
  static override readonly code = 'ABORTED';
  constructor(message: string, options?: IdempotencyErrorOptions) {
    super('ABORTED', message, options);
  }
}

/** Every code of this package and the class of its errors. */
export type IdempotencyErrors = {
  INVALID_OPTIONS: InvalidOptionsError;
  IDEMPOTENCY_KEY_MISSING: IdempotencyKeyMissingError;
  IDEMPOTENCY_KEY_INVALID: IdempotencyKeyInvalidError;
  IDEMPOTENCY_KEY_REUSED: IdempotencyKeyReusedError;
  IDEMPOTENCY_KEY_IN_PROGRESS: IdempotencyKeyInProgressError;
  SCOPE_MISSING: ScopeMissingError;
  RESULT_NOT_ENCODABLE: ResultNotEncodableError;
  STORE_UNAVAILABLE: StoreUnavailableError;
  STORE_FULL: StoreFullError;
  STORE_CLOSED: StoreClosedError;
  REQUEST_TOO_LARGE: RequestTooLargeError;
  ABORTED: AbortedError;
};

/**
 * True when `error` is any error of any installed copy of `@ballast/idempotency`; with a `code`,
 * true only for that code, and `error` is narrowed to its class (e.g. `InvalidOptionsError`).
 */
export const isIdempotencyError = errorGuard<IdempotencyErrors>(IdempotencyError);

/** What a closed store's operations reject with. */
export function storeClosed(factory: string, operation: string): StoreClosedError {
  return new StoreClosedError(
    `The idempotency ${operation} was refused: this ${factory} was closed. Close the store only after the middleware stopped taking requests (at shutdown, after the server closed).`,
  );
}

/** The error an aborted operation rejects with (keeps the signal's reason as `cause`). */
export function abortedBy(signal: AbortSignal): AbortedError {
  return new AbortedError('The operation was aborted by its AbortSignal.', {
    cause: signal.reason,
  });
}
