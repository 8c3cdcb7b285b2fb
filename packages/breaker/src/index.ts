// Public surface of @ballast/breaker: explicit named exports only, values first, then types.

export { BreakerRegistry, createBreakerRegistry } from './breaker-registry.ts';
export { BulkheadPolicy, bulkhead } from './bulkhead.ts';
export { CircuitBreaker, circuitBreaker } from './circuit-breaker.ts';
export {
  AbortedError,
  BreakerError,
  BreakerIsolatedError,
  BreakerOpenError,
  BulkheadFullError,
  InvalidOptionsError,
  InvalidSnapshotError,
  isBreakerError,
  PolicyClosedError,
  RateLimitedError,
  RetryBudgetExhaustedError,
  TimeoutError,
} from './errors.ts';
export { FallbackPolicy, fallback } from './fallback.ts';
export { HedgePolicy, hedge } from './hedge.ts';
export { Pipeline, pipeline } from './pipeline.ts';
export { RateLimiterPolicy, rateLimiter } from './rate-limiter.ts';
export { RetryPolicy, retry } from './retry.ts';
export { TimeoutPolicy, timeout } from './timeout.ts';

// Types

export type { Clock, Listener, Subscription } from '@ballast/kernel';
export type { BackoffFunction, BackoffKind } from './backoff.ts';
export type {
  FailureEvent,
  IgnoredEvent,
  RejectedEvent,
  SlowCallEvent,
  StateChangeEvent,
  SuccessEvent,
  TransitionReason,
} from './breaker-events.ts';
export type { BreakerClock, BreakerOptions, WindowType } from './breaker-options.ts';
export type { BreakerRegistryOptions } from './breaker-registry.ts';
export type { BreakerSnapshot } from './breaker-snapshot.ts';
export type { BulkheadOptions } from './bulkhead.ts';
export type { BreakerMetrics } from './circuit-breaker.ts';
export type {
  BreakerErrorCode,
  BreakerErrorMap,
  BreakerStateName,
  ClosedPolicyName,
  TimeoutPhase,
} from './errors.ts';
export type { FallbackOptions, FallbackOutcome } from './fallback.ts';
export type { HedgeOptions } from './hedge.ts';
export type { AnyPolicy, FallbackTypes, WideningPolicy } from './pipeline.ts';
export type { AttemptContext, ExecuteOptions, Policy, Work } from './policy.ts';
export type { RateLimiterOptions } from './rate-limiter.ts';
export type { RetryEvent, RetryOptions, RetryOutcome } from './retry.ts';
export type { RetryBudget, RetryBudgetOptions } from './retry-budget.ts';
export type {
  CountWindowSnapshot,
  TimeWindowSnapshot,
  WindowSnapshot,
} from './sliding-window.ts';
export type { TimeoutOptions } from './timeout.ts';
