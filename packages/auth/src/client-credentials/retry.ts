import { type Clock, sleep } from '@ballast/kernel';
import { TokenRequestError } from '../errors.ts';

/** Attempts and back-off of a token request. @internal */
export interface TokenRetryPolicy {
  readonly attempts: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
}

const TRANSIENT = new WeakSet<object>();

/** Marks `error` as worth another attempt (a 5xx, a network error, a timeout). @internal */
export function markTransient<E extends Error>(error: E): E {
  TRANSIENT.add(error);
  return error;
}

/** True for an error {@link markTransient} marked. @internal */
export function isTransient(error: unknown): boolean {
  return typeof error === 'object' && error !== null && TRANSIENT.has(error);
}

/** Delay before attempt `attempt + 1`: `min(max, base·2^(attempt-1))`, scaled by 50–100 % at random. @internal */
export function backoffDelay(
  policy: TokenRetryPolicy,
  attempt: number,
  random: () => number,
): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  return Math.round(ceiling * (0.5 + 0.5 * random()));
}

/** What {@link withRetries} needs besides the work. @internal */
export interface RetryContext {
  readonly policy: TokenRetryPolicy;
  readonly clock: Clock;
  readonly random: () => number;
  /** Ends the attempts and the waits between them (rejecting with its reason). */
  readonly signal: AbortSignal;
  /** Told before each wait. */
  readonly onRetry?: ((attempt: number, delayMs: number, error: unknown) => void) | undefined;
}

/** The error of the last attempt, and how many were made. @internal */
export class AttemptsFailed extends Error {
  readonly attempts: number;
  constructor(cause: unknown, attempts: number) {
    super('every attempt failed', { cause });
    this.attempts = attempts;
  }

  /**
   * The error the caller gets: the last attempt's, its message saying how many attempts were
   * made when there was more than one (`TokenRequestError` also carries `attempts`).
   */
  lastError(): unknown {
    const error = this.cause;
    if (!(error instanceof TokenRequestError) || this.attempts === 1) return error;
    return new TokenRequestError(`${error.message} (after ${this.attempts} attempts)`, {
      failure: error.failure,
      status: error.status,
      error: error.error,
      errorDescription: error.errorDescription,
      errorUri: error.errorUri,
      attempts: this.attempts,
      cause: error.cause,
    });
  }
}

/**
 * Runs `run(attempt)` until it succeeds, a failure is not transient, or the attempts run out
 * (then rejects with {@link AttemptsFailed}). The waits are on the context's clock and keep the
 * process alive (the caller is waiting for the token). When the signal aborts, rejects with its
 * reason. @internal
 */
export async function withRetries<T>(
  run: (attempt: number) => Promise<T>,
  context: RetryContext,
): Promise<{ readonly value: T; readonly attempts: number }> {
  const { policy, signal } = context;
  for (let attempt = 1; ; attempt++) {
    try {
      return { value: await run(attempt), attempts: attempt };
    } catch (error) {
      if (signal.aborted) throw signal.reason;
      if (!isTransient(error) || attempt >= policy.attempts)
        throw new AttemptsFailed(error, attempt);
      const delayMs = backoffDelay(policy, attempt, context.random);
      context.onRetry?.(attempt, delayMs, error);
      await sleep(delayMs, { clock: context.clock, signal });
    }
  }
}
