// Checked by `tsc -p tsconfig.exact.json` (part of `npm run typecheck`) with
// exactOptionalPropertyTypes on, as many users compile (issue 10 item 7): every optional option
// accepts `undefined`, which is what a value read from config or an optional parameter often is.
import type { Clock } from '@ballast/kernel';
import {
  bulkhead,
  circuitBreaker,
  createBreakerRegistry,
  fallback,
  hedge,
  pipeline,
  rateLimiter,
  retry,
  timeout,
} from '../../src/index.ts';
import { breakerInterceptor } from '../../src/undici.ts';

declare const signal: AbortSignal | undefined;
declare const n: number | undefined;
declare const clock: Clock | undefined;
declare const predicate: ((value: unknown) => boolean) | undefined;
declare const name: string | undefined;

export async function calls(): Promise<void> {
  const breaker = circuitBreaker({
    name,
    windowSize: n,
    minimumCalls: n,
    failureRateThreshold: n,
    slowCallDurationMs: n,
    openMs: n,
    halfOpenCalls: n,
    maxWaitInHalfOpenMs: n,
    recordError: predicate,
    ignoreError: predicate,
    isFailureResult: predicate,
    recordAborts: undefined,
    clock,
  });
  await breaker.execute(async () => 1, { signal });
  await breaker.execute(async () => 1, { signal, attempt: n });
  const policy = retry({
    maxAttempts: n,
    backoff: undefined,
    initialDelayMs: n,
    maxDelayMs: n,
    multiplier: n,
    handleError: predicate,
    handleResult: predicate,
    retryAfter: undefined,
    budget: { ratio: n, minPerSecond: n, windowMs: n },
    clock,
    random: undefined,
  });
  await policy.execute(async () => 1, { signal });
  await timeout({ timeoutMs: 1_000, strategy: undefined, clock }).execute(async () => 1, {
    signal,
  });
  await bulkhead({ maxConcurrent: 1, maxQueue: n, queueTimeoutMs: n, clock }).execute(
    async () => 1,
    { signal },
  );
  await hedge({
    delayMs: 10,
    quantile: n,
    windowSize: n,
    minSamples: n,
    maxHedgedAttempts: n,
    clock,
  }).execute(async () => 1, { signal });
  await rateLimiter({ ratePerSecond: 1, burst: n, clock }).execute(async () => 1, { signal });
  await fallback({ value: 0, handleError: predicate, handleResult: predicate }).execute(
    async () => 1,
    { signal },
  );
  await pipeline(policy, breaker).execute(async () => 1, { signal });
  createBreakerRegistry({ breaker: { windowSize: n }, maxBreakers: n, idleMs: n });
  breakerInterceptor({
    breaker: { windowSize: n },
    breakers: undefined,
    retry: undefined,
    timeoutMs: n,
    isFailure: undefined,
    clock,
  });
}
