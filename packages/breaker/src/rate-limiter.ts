import { attempt, type Clock, o, systemClock } from '@ballast/kernel';
import { abortError, callError, contextFor, sourceOf } from './abort.ts';
import { RateLimitedError } from './errors.ts';
import type { ExecuteOptions, Policy, Work } from './policy.ts';
import { clockSchema, finite, parseOptions } from './validate.ts';

/** Options of {@link rateLimiter}. */
export interface RateLimiterOptions {
  /** Tokens added per second (the sustained rate of calls), > 0. */
  ratePerSecond: number;
  /** Bucket size: calls allowed in a burst. Default: `max(1, ratePerSecond)`. */
  burst?: number | undefined;
  /** Time source of the refill. Default: the system clock. */
  clock?: Clock | undefined;
}

const rateLimiterSchema = o.object({
  ratePerSecond: finite({ gt: 0 }),
  burst: finite({ min: 1 }).optional(),
  clock: clockSchema.optional(),
});

/**
 * A token-bucket rate limiter: the bucket holds `burst` tokens and refills at `ratePerSecond`
 * (lazily, on use: no timer); each call takes one token or is refused at once with
 * `RateLimitedError` (code `RATE_LIMITED`) carrying `retryAfterMs`.
 */
export class RateLimiterPolicy implements Policy {
  /** Sustained rate, in calls per second. */
  readonly ratePerSecond: number;
  /** Bucket size. */
  readonly burst: number;
  readonly #clock: Clock;
  #tokens: number;
  #updatedAt: number;

  constructor(options: RateLimiterOptions) {
    const parsed = parseOptions(rateLimiterSchema, options, 'rateLimiter()');
    this.ratePerSecond = parsed.ratePerSecond;
    this.burst = parsed.burst ?? Math.max(1, parsed.ratePerSecond);
    this.#clock = parsed.clock ?? systemClock;
    this.#tokens = this.burst;
    this.#updatedAt = this.#clock.now();
  }

  /** Tokens in the bucket now. */
  get tokens(): number {
    this.#refill();
    return this.#tokens;
  }

  /**
   * Takes a token if one is there. Returns 0 on success, else the milliseconds until one will be.
   */
  tryAcquire(): number {
    this.#refill();
    if (this.#tokens >= 1) {
      this.#tokens -= 1;
      return 0;
    }
    return ((1 - this.#tokens) * 1000) / this.ratePerSecond;
  }

  /** Runs `fn` if a token is available, else rejects with `RateLimitedError`. */
  execute<T>(fn: Work<T>, options?: ExecuteOptions): Promise<T> {
    const invalid = callError(fn, options);
    if (invalid !== undefined) return Promise.reject(invalid);
    const source = sourceOf(options);
    if (source?.aborted) return Promise.reject(abortError(source));
    const waitMs = this.tryAcquire();
    if (waitMs > 0) return Promise.reject(new RateLimitedError(waitMs));
    return attempt(fn, contextFor(options));
  }

  #refill(): void {
    const now = this.#clock.now();
    const elapsed = now - this.#updatedAt;
    if (elapsed <= 0) return;
    this.#updatedAt = now;
    this.#tokens = Math.min(this.burst, this.#tokens + (elapsed * this.ratePerSecond) / 1000);
  }
}

/**
 * Creates a {@link RateLimiterPolicy}: `rateLimiter({ ratePerSecond: 100, burst: 20 })`.
 * @throws InvalidOptionsError (code `INVALID_OPTIONS`) naming the bad option.
 */
export function rateLimiter(options: RateLimiterOptions): RateLimiterPolicy {
  return new RateLimiterPolicy(options);
}
