/**
 * Background work that should not fill the trace store: the blocking stream reads, the registry's
 * heartbeats, the lease renewals. `quiet(fn)` runs `fn` with tracing suppressed (OpenTelemetry's
 * suppress-tracing context key; timers and promises started inside inherit it), `traced(fn)` starts
 * again from an empty context for work that deserves its own traces (the leader's expiry job).
 */
import { context, createContextKey, ROOT_CONTEXT } from '@opentelemetry/api';

// The key `suppressTracing()` of @opentelemetry/core sets; context keys are Symbol.for(description).
const SUPPRESS_TRACING = createContextKey('OpenTelemetry SDK Context Key SUPPRESS_TRACING');

export function quiet<T>(fn: () => T): T {
  return context.with(context.active().setValue(SUPPRESS_TRACING, true), fn);
}

export function traced<T>(fn: () => T): T {
  return context.with(ROOT_CONTEXT, fn);
}
