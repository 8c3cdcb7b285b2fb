import * as _ballast_kernel from '@ballast/kernel';
import { BallastError } from '@ballast/kernel';
import { Attributes } from '@opentelemetry/api';
import { SpanExporter, Sampler } from '@opentelemetry/sdk-trace';

/** Codes of the errors this package throws. */
type TracingErrorCode = 'INVALID_OPTIONS';
/** Base class of every error `@ballast/tracing` throws; check with {@link isTracingError}. */
declare class TracingError<C extends TracingErrorCode = TracingErrorCode> extends BallastError<C> {
    static readonly brand: symbol;
}
declare const InvalidOptionsError_base: _ballast_kernel.InvalidOptionsErrorClass<TracingError<"INVALID_OPTIONS">>;
/**
 * A helper was called with options it cannot use (programmatic misuse). `startTracing()` never
 * throws it: there a bad option becomes a warning and a no-op SDK, and `status().error` holds it.
 */
declare class InvalidOptionsError extends InvalidOptionsError_base {
}
/** `isTracingError(e)` or `isTracingError(e, 'INVALID_OPTIONS')`; narrows, and works across copies. */
declare const isTracingError: _ballast_kernel.ErrorGuard<{
    INVALID_OPTIONS: InvalidOptionsError;
}>;

/** The instrumentations of the default set; each can be switched off. */
type InstrumentationName = 'http' | 'undici' | 'express' | 'fastify' | 'koa' | 'ioredis' | 'pino';
/** Switches for the default instrumentation set: all `true` unless set to `false`. */
interface InstrumentationsOptions {
    /** `node:http`/`https` server and client spans, through `diagnostics_channel`. Default `true`. */
    http?: boolean | undefined;
    /** undici and global `fetch` client spans, through `diagnostics_channel`. Default `true`. */
    undici?: boolean | undefined;
    /** The Express route (`http.route`) on the server span; no extra spans. Default `true`. */
    express?: boolean | undefined;
    /** The Fastify route on the server span, from Fastify's `diagnostics_channel`. Default `true`. */
    fastify?: boolean | undefined;
    /** The Koa router's route on the server span. Default `true`. */
    koa?: boolean | undefined;
    /** ioredis (v6) command spans, through its `diagnostics_channel`. Default `true`. */
    ioredis?: boolean | undefined;
    /** `trace_id`/`span_id`/`trace_flags` in every pino log line. Default `true`. */
    pino?: boolean | undefined;
}
/** Where spans (and metrics) go. */
type ExporterName = 'otlp' | 'otlp-json' | 'console' | 'none';
/** Options of {@link startTracing}; every one also has an environment variable (README table). */
interface TracingOptions {
    /** `service.name` of the resource. Default: `OTEL_SERVICE_NAME`, else `unknown_service:node`. */
    serviceName?: string | undefined;
    /**
     * Where spans go: `'otlp'` (OTLP/HTTP protobuf, the default), `'otlp-json'` (OTLP/HTTP JSON),
     * `'console'` (printed, for local development), `'none'`, or any OpenTelemetry `SpanExporter`.
     * Default: from `OTEL_TRACES_EXPORTER` and `OTEL_EXPORTER_OTLP_PROTOCOL`, else `'otlp'`.
     */
    exporter?: ExporterName | SpanExporter | undefined;
    /**
     * OTLP/HTTP base URL (`/v1/traces` and `/v1/metrics` are appended). Default:
     * `OTEL_EXPORTER_OTLP_ENDPOINT`, else `http://localhost:4318`.
     */
    endpoint?: string | undefined;
    /** Extra headers on OTLP requests (e.g. an API key). Default: `OTEL_EXPORTER_OTLP_HEADERS`. */
    headers?: Record<string, string> | undefined;
    /**
     * Sampling: a ratio in [0, 1] (parent-based: a request whose caller sampled it is sampled,
     * one whose caller did not is not, a new trace is sampled with this probability),
     * `'always_on'`, `'always_off'`, or any OpenTelemetry `Sampler`.
     * Default: `OTEL_TRACES_SAMPLER`/`OTEL_TRACES_SAMPLER_ARG`, else `1` (every trace).
     */
    sampler?: number | 'always_on' | 'always_off' | Sampler | undefined;
    /** Switch instrumentations of the default set off (`{ koa: false }`). Default: all on. */
    instrumentations?: InstrumentationsOptions | undefined;
    /** Extra resource attributes (merged over `OTEL_RESOURCE_ATTRIBUTES`). */
    resource?: Attributes | undefined;
    /**
     * Export metrics (every Ballast package's counters and gauges) through the same SDK. Default:
     * `true` unless `OTEL_METRICS_EXPORTER=none` or the span exporter is `'none'` or custom.
     */
    metrics?: boolean | undefined;
    /** How often metrics are exported. Default: `OTEL_METRIC_EXPORT_INTERVAL`, else 60 000 ms. */
    metricsIntervalMs?: number | undefined;
    /** Longest that `shutdown()` (and the SIGTERM/SIGINT handler) waits for the last export. Default 5 000 ms. */
    shutdownTimeoutMs?: number | undefined;
    /** Flush and shut down on SIGTERM/SIGINT, then let the process end as it would have. Default `true`. */
    handleSignals?: boolean | undefined;
    /**
     * Incoming requests on these paths (exact match, query ignored) create no span, and their
     * handlers run with tracing suppressed, so nothing they do (a Redis `PING` of a health check)
     * creates one either. Default: `BALLAST_TRACING_IGNORE_PATHS` (comma-separated), else
     * `['/livez', '/readyz', '/health']` — the probes of `@ballast/discovery`; `[]` traces every path.
     */
    ignoreIncomingPaths?: readonly string[] | undefined;
    /** Level of OpenTelemetry's diagnostic logger (exporter failures, …). Default: `OTEL_LOG_LEVEL`, else `'warn'`. */
    logLevel?: 'none' | 'error' | 'warn' | 'info' | 'debug' | 'verbose' | 'all' | undefined;
}

/** Where tracing is at. */
type TracingState = 'running' | 'disabled' | 'failed' | 'shut-down';
/** What `status()` reports. */
interface TracingStatus {
    /** `running`; `disabled` (`OTEL_SDK_DISABLED`); `failed` (bad options, see `error`); `shut-down`. */
    readonly state: TracingState;
    /** `service.name` of the resource. */
    readonly serviceName: string;
    /** The instrumentations that are on. */
    readonly instrumentations: readonly InstrumentationName[];
    /** Spans the exporter delivered. */
    readonly spansExported: number;
    /** Exports that failed (the collector was down, refused, timed out). */
    readonly exportFailures: number;
    /** The message of the last failed export. */
    readonly lastExportError: string | undefined;
    /** Instrumentation hooks that hit an unexpected error (the request itself went on untraced). */
    readonly instrumentationFaults: number;
    /** Why tracing is not running when `state` is `failed`. */
    readonly error: InvalidOptionsError | Error | undefined;
    /** Every warning start-up emitted. */
    readonly warnings: readonly string[];
}
/** What {@link startTracing} returns. */
interface TracingHandle {
    /** Exports every span ended so far (and metrics); resolves when done, never rejects. */
    flush(): Promise<void>;
    /**
     * Flushes, stops the SDK and the instrumentations, within `shutdownTimeoutMs`; idempotent,
     * never rejects. Spans started afterwards are no-ops.
     */
    shutdown(): Promise<void>;
    /** Same as {@link TracingHandle.shutdown}. */
    close(): Promise<void>;
    /** State, export counters and warnings. */
    status(): TracingStatus;
    [Symbol.asyncDispose](): Promise<void>;
}
/**
 * Starts OpenTelemetry for this process: the SDK tracer (and, on first use, meter) provider, W3C
 * `traceparent` + `baggage` propagation, the lean default instrumentation set and an exporter.
 * Options override the `OTEL_*` environment variables. Call it before the application loads
 * (a preload file, or `--import @ballast/tracing/register`, which calls it for you).
 *
 * Never throws: a bad option gives a warning and a no-op handle whose `status().error` says why.
 * Calling it again returns the running handle.
 *
 * ```ts
 * const tracing = startTracing({ serviceName: 'orders', sampler: 0.1 });
 * ```
 */
declare function startTracing(options?: TracingOptions): TracingHandle;
/** The handle of the tracing started in this process, if any. */
declare function activeTracing(): TracingHandle | undefined;

export { InvalidOptionsError as b, TracingError as c, activeTracing as h, isTracingError as i, startTracing as s };
export type { ExporterName as E, InstrumentationsOptions as I, TracingHandle as T, InstrumentationName as a, TracingErrorCode as d, TracingOptions as e, TracingState as f, TracingStatus as g };
