import { otel } from '@ballast/kernel';

/**
 * A tracing SDK has a span for this request: the client's trace headers are replaced by the
 * current span's (the instrumentation of the upstream call writes them), not sent twice.
 */
export function tracing(): boolean {
  const api = otel();
  if (api === undefined) return false;
  const context = api.trace.getSpanContext(api.context.active());
  return context !== undefined && api.trace.isSpanContextValid(context);
}
