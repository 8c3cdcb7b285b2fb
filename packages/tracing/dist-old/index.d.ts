export { E as ExporterName, a as InstrumentationName, I as InstrumentationsOptions, b as InvalidOptionsError, c as TracingError, d as TracingErrorCode, T as TracingHandle, e as TracingOptions, f as TracingState, g as TracingStatus, h as activeTracing, i as isTracingError, s as startTracing } from './start-BOLf0_EM.js';
import { Attributes, Context, Span } from '@opentelemetry/api';
import '@ballast/kernel';
import '@opentelemetry/sdk-trace';

/** A span's kind, by name. */
type SpanKindName = 'internal' | 'server' | 'client' | 'producer' | 'consumer';
/** Options of {@link withSpan}. */
interface WithSpanOptions {
    /** Attributes of the span; set only when the span records (sampled). */
    attributes?: Attributes | undefined;
    /** The span's kind. Default `'internal'`. */
    kind?: SpanKindName | undefined;
    /**
     * The parent: a context from {@link extract} (a message's headers). Default: the active context.
     */
    parent?: Context | undefined;
}
/**
 * Headers of a message or request: a plain object (`Record<string, string>`, Node's
 * `IncomingHttpHeaders`), or anything with `get`/`set` (`Headers`, `Map`).
 */
type Carrier = Record<string, string | string[] | undefined> | {
    get(key: string): string | null | undefined;
    set(key: string, value: string): unknown;
};
/**
 * Runs `fn` in a new active span named `name` and returns what `fn` returns (a promise for an
 * async `fn`). On a throw or a rejection the span records the exception and gets ERROR status; the
 * span ends when `fn` returns or its promise settles. A no-op span when tracing is not started.
 *
 * ```ts
 * const total = await withSpan('cart.total', async (span) => sum(await items()), { attributes: { 'cart.id': id } });
 * ```
 */
declare function withSpan<T>(name: string, fn: (span: Span) => T, options?: WithSpanOptions): T;
/**
 * `fn` bound to the context active now: however later it is called (an event emitter, a queue, a
 * timer of another library), spans it starts are children of the current span.
 */
declare function bindContext<F extends (...args: never[]) => unknown>(fn: F): F;
/**
 * Writes the active trace context (`traceparent`, `tracestate`, `baggage`) into `carrier` — the
 * headers of a message you are about to publish — and returns it.
 *
 * ```ts
 * await redis.xadd('orders', '*', 'body', json, 'headers', JSON.stringify(inject({})));
 * ```
 */
declare function inject<C extends Carrier>(carrier: C, context?: Context): C;
/**
 * The trace context carried by `carrier` (a consumed message's headers), to pass as
 * `withSpan(name, fn, { parent: extract(headers), kind: 'consumer' })`. Without propagation
 * headers it is the active context.
 */
declare function extract(carrier: Carrier, context?: Context): Context;

/** The ids of the active span, as W3C `traceparent` spells them. */
interface TraceIds {
    /** 32 lower-case hex digits. */
    readonly traceId: string;
    /** 16 lower-case hex digits. */
    readonly spanId: string;
    /** `'01'` when the trace is sampled (exported), `'00'` when it is not. */
    readonly traceFlags: string;
}
/** The fields a log line gets: OpenTelemetry's log-correlation names. */
interface LogFields {
    readonly trace_id: string;
    readonly span_id: string;
    readonly trace_flags: string;
}
/**
 * The ids of the span active where this is called (inside a request handler: the request's span),
 * or `undefined` outside any trace. Cheap: no allocation besides the result.
 */
declare function currentTraceIds(): TraceIds | undefined;
/**
 * `{ trace_id, span_id, trace_flags }` of the active span, or `{}` outside any trace: merge it into
 * a log line with any logger (`logger.info({ ...logFields(), order }, 'paid')`).
 */
declare function logFields(): Partial<LogFields>;
/**
 * A pino `mixin`: `pino({ mixin: pinoMixin })` puts the active span's `trace_id`, `span_id` and
 * `trace_flags` on every line. Not needed when tracing started with the `pino` instrumentation on
 * (the default), which adds the same fields to every pino logger created after start.
 */
declare function pinoMixin(): Partial<LogFields>;

export { bindContext, currentTraceIds, extract, inject, logFields, pinoMixin, withSpan };
export type { Carrier, LogFields, SpanKindName, TraceIds, WithSpanOptions };
