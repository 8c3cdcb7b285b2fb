import { api } from './api.ts';

/** The ids of the active span, as W3C `traceparent` spells them. */
export interface TraceIds {
  /** 32 lower-case hex digits. */
  readonly traceId: string;
  /** 16 lower-case hex digits. */
  readonly spanId: string;
  /** `'01'` when the trace is sampled (exported), `'00'` when it is not. */
  readonly traceFlags: string;
}

/** The fields a log line gets: OpenTelemetry's log-correlation names. */
export interface LogFields {
  readonly trace_id: string;
  readonly span_id: string;
  readonly trace_flags: string;
}

/**
 * The ids of the span active where this is called (inside a request handler: the request's span),
 * or `undefined` outside any trace. Cheap: no allocation besides the result.
 */
export function currentTraceIds(): TraceIds | undefined {
  const span = api().trace.getActiveSpan();
  if (span === undefined) return undefined;
  const context = span.spanContext();
  if (!api().trace.isSpanContextValid(context)) return undefined;
  return {
    traceId: context.traceId,
    spanId: context.spanId,
    traceFlags: context.traceFlags & 1 ? '01' : '00',
  };
}

/**
 * `{ trace_id, span_id, trace_flags }` of the active span, or `{}` outside any trace: merge it into
 * a log line with any logger (`logger.info({ ...logFields(), order }, 'paid')`). Always a new object
 * the caller may extend.
 */
export function logFields(): Partial<LogFields> {
  const ids = currentTraceIds();
  // A fresh object, never a shared frozen one: pino's default mixin merge writes the line's own
  // fields into what the mixin returned (guarded by "pino merges a line's fields…" in helpers.test.ts).
  if (ids === undefined) return {};
  return { trace_id: ids.traceId, span_id: ids.spanId, trace_flags: ids.traceFlags };
}

/**
 * A pino `mixin`: `pino({ mixin: pinoMixin })` puts the active span's `trace_id`, `span_id` and
 * `trace_flags` on every line. Not needed when tracing started with the `pino` instrumentation on
 * (the default), which adds the same fields to every pino logger created after start.
 */
export function pinoMixin(): Partial<LogFields> {
  return logFields();
}
