import { BallastError, errorGuard, invalidOptionsError } from '@ballast/kernel';

/** Codes of the errors this package throws. */
export type TracingErrorCode = 'INVALID_OPTIONS';

/** Base class of every error `@ballast/tracing` throws; check with {@link isTracingError}. */
export class TracingError<C extends TracingErrorCode = TracingErrorCode> extends BallastError<C> {
  static override readonly brand: symbol = Symbol.for('@ballast/tracing.error');
}

/**
 * A helper was called with options it cannot use (programmatic misuse). `startTracing()` never
 * throws it: there a bad option becomes a warning and a no-op SDK, and `status().error` holds it.
 */
export class InvalidOptionsError extends invalidOptionsError(TracingError) {}

/** `isTracingError(e)` or `isTracingError(e, 'INVALID_OPTIONS')`; narrows, and works across copies. */
export const isTracingError = errorGuard<{ INVALID_OPTIONS: InvalidOptionsError }>(TracingError);
