import { otel } from '@ballast/kernel';

/**
 * OpenTelemetry's context key that tells SDK tracers not to record (`suppressTracing()` of
 * `@opentelemetry/core` sets it; `createContextKey` keys are `Symbol.for(description)`, so the key
 * is the same whichever copy creates it).
 */
const SUPPRESS_TRACING = 'OpenTelemetry SDK Context Key SUPPRESS_TRACING';

/**
 * Runs `fn` with tracing suppressed, so a health check's own work (a Redis `PING`, an HTTP call)
 * creates no spans. Without `@opentelemetry/api` installed it just runs `fn`.
 */
export function untraced<T>(fn: () => T): T {
  const api = otel();
  if (api === undefined) return fn();
  const context = api.context.active().setValue(api.createContextKey(SUPPRESS_TRACING), true);
  return api.context.with(context, fn);
}
