import { type Clock, o, systemClock } from '@ballast/kernel';
import type { Dispatcher } from 'undici';
import type { BreakerOptions } from './breaker-options.ts';
import { BreakerRegistry } from './breaker-registry.ts';
import type { Policy } from './policy.ts';
import { type RetryOptions, RetryPolicy } from './retry.ts';
import {
  Exchange,
  type ExchangeSettings,
  type IncomingHttpHeaders,
  type RetryFor,
} from './undici-exchange.ts';
import { clockSchema, finite, nestedOptions, parseOptions } from './validate.ts';

/** Where the interceptor finds the breaker of an origin (e.g. a keyed breaker registry). */
export interface BreakerSource {
  /** The breaker of `origin` (`https://host:port`), created on first use. */
  get(origin: string): Policy;
}

/** Options of {@link breakerInterceptor}. */
export interface BreakerInterceptorOptions {
  /**
   * Options of each origin's circuit breaker, kept in a keyed registry (one breaker per origin,
   * named after it). Ignored when `breakers` is given.
   */
  breaker?: Omit<BreakerOptions, 'name'> | undefined;
  /**
   * Your own per-origin breakers instead, e.g. `createBreakerRegistry({ … })` when you also read
   * their metrics or size the registry.
   */
  breakers?: BreakerSource | undefined;
  /**
   * Retries of idempotent requests (GET, HEAD, OPTIONS, PUT, DELETE, TRACE, or any request with an
   * `Idempotency-Key` header, with a body that can be sent again), through the same breaker,
   * honouring `Retry-After`. `retry` options; `handleResult` receives `{ statusCode, headers }`
   * and defaults to `isFailure(statusCode)`. Default: no retry.
   */
  retry?: RetryOptions | false | undefined;
  /**
   * Whose retry budget a retry spends. `'per-origin'` (default): each origin has its own budget,
   * so one origin's outage cannot spend the retries of the healthy ones. `'shared'`: one budget for
   * every origin (a global bound on the extra load all retries add).
   */
  retryBudget?: 'per-origin' | 'shared' | undefined;
  /**
   * Per attempt, from dispatch until the last byte of the response body (waiting for a connection,
   * connecting, waiting for the headers, reading the body), in milliseconds; then the attempt is
   * aborted with `TimeoutError`, whose `phase` says where it was. It also bounds draining a
   * failed response before a retry. Default: none.
   */
  timeoutMs?: number | undefined;
  /** Which status codes count as breaker failures (and are retried). Default `status >= 500`. */
  isFailure?: ((statusCode: number) => boolean) | undefined;
  /** Time source of `timeoutMs` and retry delays. Default: the system clock. */
  clock?: Clock | undefined;
}

/** What a retried attempt's result looks like to `retry.handleResult` and `retry.retryAfter`. */
export interface InterceptedResponse {
  /** The response's status code. */
  readonly statusCode: number;
  /** The response's headers. */
  readonly headers: IncomingHttpHeaders;
}

const anObject = o.object({}, { passthrough: true });

const interceptorSchema = o.object({
  breaker: anObject.optional(),
  breakers: o
    .custom<BreakerSource>(
      (v) => typeof v === 'object' && v !== null && typeof (v as BreakerSource).get === 'function',
      'an object with a get(origin) method returning a breaker',
    )
    .optional(),
  retry: o.union(o.literal(false), anObject).optional(),
  retryBudget: o.oneOf(['per-origin', 'shared']).default('per-origin'),
  timeoutMs: finite({ gt: 0 }).optional(),
  isFailure: o.fn<(statusCode: number) => boolean>().optional(),
  clock: clockSchema.optional(),
});

const FACTORY = 'breakerInterceptor()';
const serverError = (statusCode: number) => statusCode >= 500;
/** Origins whose own retry policy (budget) is kept; beyond it the oldest is dropped. */
const MAX_ORIGIN_BUDGETS = 1_000;

/**
 * An undici interceptor that runs every request through its origin's circuit breaker and judges
 * the whole exchange: failure statuses (default 5xx), connection errors, a body that dies mid-way
 * and timeouts count as failures, a slow body makes a slow call, a caller's abort is never counted;
 * an open breaker answers at once with `BreakerOpenError` without touching the network; idempotent
 * requests may be retried (honouring `Retry-After`, within a per-origin retry budget); each attempt
 * may have a timeout from dispatch to the last byte. The README's interceptor section walks
 * through each phase of an exchange.
 *
 * @throws InvalidOptionsError (code `INVALID_OPTIONS`) naming the bad option.
 */
export function breakerInterceptor(
  options: BreakerInterceptorOptions = {},
): Dispatcher.DispatcherComposeInterceptor {
  const parsed = parseOptions(interceptorSchema, options, FACTORY);
  const clock = parsed.clock ?? systemClock;
  const isFailure = parsed.isFailure ?? serverError;
  const breakers =
    parsed.breakers ??
    nestedOptions(FACTORY, 'breaker', () => new BreakerRegistry({ breaker: options.breaker }));
  const settings: ExchangeSettings = {
    retryFor: retryPolicies(options.retry, parsed.retryBudget, clock, isFailure),
    timeoutMs: parsed.timeoutMs,
    isFailure,
    clock,
  };
  return (dispatch: Dispatcher.Dispatch): Dispatcher.Dispatch =>
    (opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean => {
      const origin = String(opts.origin ?? '');
      return new Exchange(dispatch, opts, handler, breakers.get(origin), origin, settings).start();
    };
}

/** The retry policy of each origin (one shared, or one per origin), or none. */
function retryPolicies(
  retry: RetryOptions | false | undefined,
  budget: 'per-origin' | 'shared',
  clock: Clock,
  isFailure: (statusCode: number) => boolean,
): RetryFor | undefined {
  if (retry === undefined || retry === false) return undefined;
  const build = (): RetryPolicy =>
    nestedOptions(
      FACTORY,
      'retry',
      () =>
        new RetryPolicy({
          clock,
          handleResult: (result) => isFailure((result as InterceptedResponse).statusCode),
          ...retry,
        }),
    );
  const shared = build(); // validates the options once, at construction
  if (budget === 'shared') return () => shared;
  const byOrigin = new Map<string, RetryPolicy>();
  return (origin) => {
    let policy = byOrigin.get(origin);
    if (policy === undefined) {
      if (byOrigin.size >= MAX_ORIGIN_BUDGETS) byOrigin.delete(byOrigin.keys().next().value!);
      policy = build();
      byOrigin.set(origin, policy);
    }
    return policy;
  };
}
