import { Attributes, AttributeValue } from '@opentelemetry/api';
import { TracingHandle, InstrumentationsOptions } from './index.js';
import '@ballast/kernel';
import '@opentelemetry/sdk-trace';

/**
 * `@ballast/tracing/testing`: tracing for tests, with every span kept in memory and available as
 * soon as it ends (a synchronous processor), plus finders and a parent/child tree.
 *
 * @packageDocumentation
 */

/** A finished span, in plain data. */
interface TestSpan {
    readonly name: string;
    /** `'internal' | 'server' | 'client' | 'producer' | 'consumer'`. */
    readonly kind: string;
    readonly traceId: string;
    readonly spanId: string;
    /** The parent's span id; `undefined` for a root span. */
    readonly parentSpanId: string | undefined;
    readonly attributes: Attributes;
    /** `'unset' | 'ok' | 'error'` and the status message. */
    readonly status: {
        readonly code: 'unset' | 'ok' | 'error';
        readonly message: string | undefined;
    };
    /** Event names in order (`exception` for a recorded exception). */
    readonly events: readonly {
        readonly name: string;
        readonly attributes: Attributes;
    }[];
    /** Start, in milliseconds since the epoch. */
    readonly startTimeMs: number;
    /** Wall time in milliseconds. */
    readonly durationMs: number;
    /** The instrumentation scope (tracer name) that created it. */
    readonly scope: string;
}
/** A span and its children, as {@link TestTracing.tree} returns it. */
interface SpanNode extends TestSpan {
    readonly children: readonly SpanNode[];
}
/** What to look for with {@link TestTracing.spans}; every given field must match. */
interface SpanQuery {
    /** The exact name, or a pattern. */
    name?: string | RegExp | undefined;
    /** Attributes the span must have, with these values. */
    attributes?: Record<string, AttributeValue> | undefined;
    /** The span kind. */
    kind?: TestSpan['kind'] | undefined;
    /** Only spans of this trace. */
    traceId?: string | undefined;
}
/** Options of {@link createTestTracing}. */
interface TestTracingOptions {
    /** `service.name`. Default `'test'`. */
    serviceName?: string | undefined;
    /** Switch instrumentations off. Default: the whole default set, as in production. */
    instrumentations?: InstrumentationsOptions | undefined;
}
/** In-memory tracing for a test; see {@link createTestTracing}. */
interface TestTracing {
    /** Finished spans in the order they ended, optionally filtered. */
    spans(query?: SpanQuery): TestSpan[];
    /** Finished spans as trees: roots (spans whose parent is not among them) with their children, by start time. */
    tree(query?: {
        traceId?: string | undefined;
    }): SpanNode[];
    /** Forgets every span recorded so far. */
    reset(): void;
    /** Stops tracing (the instrumentations and the providers). */
    shutdown(): Promise<void>;
    /** The underlying tracing handle. */
    readonly handle: TracingHandle;
}
/**
 * Starts tracing for tests: every span sampled, kept in memory by a synchronous processor (a span
 * is in `spans()` as soon as it ends), no export, no signal handlers. Instrumentations are the
 * production set, so a real HTTP server in the test gets real server spans.
 *
 * ```ts
 * const tracing = createTestTracing();
 * await withSpan('work', () => 1);
 * tracing.spans({ name: 'work' }).length; // 1
 * ```
 */
declare function createTestTracing(options?: TestTracingOptions): TestTracing;

export { createTestTracing };
export type { SpanNode, SpanQuery, TestSpan, TestTracing, TestTracingOptions };
