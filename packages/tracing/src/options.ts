import { type Infer, o, parseOptions } from '@ballast/kernel';
import type { Attributes, DiagLogLevel } from '@opentelemetry/api';
import type { Sampler, SpanExporter } from '@opentelemetry/sdk-trace';
import { InvalidOptionsError } from './errors.ts';

/** The instrumentations of the default set; each can be switched off. */
export type InstrumentationName =
  | 'http'
  | 'undici'
  | 'express'
  | 'fastify'
  | 'koa'
  | 'ioredis'
  | 'pino';

/** Every instrumentation name, in the order they are documented. */
export const INSTRUMENTATION_NAMES: readonly InstrumentationName[] = [
  'http',
  'undici',
  'express',
  'fastify',
  'koa',
  'ioredis',
  'pino',
];

/** Switches for the default instrumentation set: all `true` unless set to `false`. */
export interface InstrumentationsOptions {
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
export type ExporterName = 'otlp' | 'otlp-json' | 'console' | 'none';

/** Options of {@link startTracing}; every one also has an environment variable (README table). */
export interface TracingOptions {
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

const hasMethods = (value: unknown, names: readonly string[]) =>
  typeof value === 'object' &&
  value !== null &&
  names.every((name) => typeof (value as Record<string, unknown>)[name] === 'function');

const instrumentationsSchema = o.object({
  http: o.boolean().optional(),
  undici: o.boolean().optional(),
  express: o.boolean().optional(),
  fastify: o.boolean().optional(),
  koa: o.boolean().optional(),
  ioredis: o.boolean().optional(),
  pino: o.boolean().optional(),
});

const schema = o.object({
  serviceName: o.string().optional(),
  exporter: o
    .union(
      o.oneOf(['otlp', 'otlp-json', 'console', 'none'] as const),
      o.custom<SpanExporter>((v) => hasMethods(v, ['export', 'shutdown']), 'a SpanExporter'),
    )
    .optional(),
  endpoint: o
    .custom<string>((v) => typeof v === 'string' && URL.canParse(v), 'an http(s) URL')
    .optional(),
  headers: o.record(o.string()).optional(),
  sampler: o
    .union(
      o.number({ min: 0, max: 1 }),
      o.oneOf(['always_on', 'always_off'] as const),
      o.custom<Sampler>((v) => hasMethods(v, ['shouldSample']), 'a Sampler'),
    )
    .optional(),
  instrumentations: instrumentationsSchema.optional(),
  resource: o
    .custom<Attributes>(
      (v) => typeof v === 'object' && v !== null && !Array.isArray(v),
      'an object of attributes',
    )
    .optional(),
  metrics: o.boolean().optional(),
  metricsIntervalMs: o.number({ min: 100, integer: true }).optional(),
  shutdownTimeoutMs: o.number({ min: 0, max: 60_000, integer: true }).optional(),
  handleSignals: o.boolean().optional(),
  ignoreIncomingPaths: o
    .array(o.string({ pattern: { regex: /^\//, expected: 'a path starting with "/"' } }))
    .optional(),
  logLevel: o
    .oneOf(['none', 'error', 'warn', 'info', 'debug', 'verbose', 'all'] as const)
    .optional(),
});

type ParsedOptions = Infer<typeof schema>;

/** The settings tracing runs with: options over environment over defaults. */
export interface ResolvedConfig {
  readonly serviceName: string;
  readonly exporter: ExporterName | SpanExporter;
  readonly endpoint: string | undefined;
  readonly headers: Record<string, string> | undefined;
  /** A ratio for the parent-based ratio sampler, or a sampler of the caller's. */
  readonly sampler: number | Sampler;
  /** Whether the sampler is parent-based (every named OTEL_TRACES_SAMPLER but the two plain ones). */
  readonly parentBased: boolean;
  readonly instrumentations: Readonly<Record<InstrumentationName, boolean>>;
  readonly resource: Attributes;
  readonly metrics: boolean;
  readonly metricsIntervalMs: number;
  readonly shutdownTimeoutMs: number;
  readonly handleSignals: boolean;
  /** Paths of incoming requests that are not traced. */
  readonly ignoreIncomingPaths: readonly string[];
  readonly logLevel: DiagLogLevelName;
  /** Warnings about environment variables that were ignored. */
  readonly warnings: readonly string[];
}

type DiagLogLevelName = NonNullable<TracingOptions['logLevel']>;

/** Which `DiagLogLevel` each name stands for (numbers from `@opentelemetry/api`). */
export const DIAG_LEVELS: Record<DiagLogLevelName, DiagLogLevel> = {
  none: 0,
  error: 30,
  warn: 50,
  info: 60,
  debug: 70,
  verbose: 80,
  all: 9999,
};

/** The health probes of `@ballast/discovery`: not traced unless `ignoreIncomingPaths` says otherwise. */
export const DEFAULT_IGNORED_PATHS: readonly string[] = ['/livez', '/readyz', '/health'];

/** Validates the options (throws {@link InvalidOptionsError}); `factory` names the caller. */
export function parseTracingOptions(input: unknown, factory = 'startTracing()'): ParsedOptions {
  return parseOptions(schema, input, { factory, error: InvalidOptionsError });
}

/** `OTEL_SDK_DISABLED=true` switches the SDK off. */
export function sdkDisabled(env: NodeJS.ProcessEnv): boolean {
  return env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true';
}

/** Options over environment over defaults. Environment mistakes become warnings, never errors. */
export function resolveConfig(options: ParsedOptions, env: NodeJS.ProcessEnv): ResolvedConfig {
  const warnings: string[] = [];
  const warnEnv: WarnEnv = (name, expected) =>
    warnings.push(`${name}=${JSON.stringify(env[name])} is not ${expected}; ignored.`);

  // Each part reads its variables in this order, so the warnings keep it too.
  const exporter = exporterOf(options, env, warnEnv);
  const { sampler, parentBased } = samplerOf(options, env, warnEnv);
  const instrumentations = instrumentationsOf(options, env);
  const resource = resourceOf(options, env, warnings);

  const serviceName =
    options.serviceName ??
    (env.OTEL_SERVICE_NAME?.trim() || undefined) ??
    (typeof resource['service.name'] === 'string' ? resource['service.name'] : undefined) ??
    'unknown_service:node';

  const metricsEnv = env.OTEL_METRICS_EXPORTER?.trim().toLowerCase();
  const metrics =
    options.metrics ?? (metricsEnv !== 'none' && (exporter === 'otlp' || exporter === 'otlp-json'));
  const metricsIntervalMs = metricsIntervalOf(options, env, warnEnv);
  const logLevel = logLevelOf(options, env, warnEnv);
  const ignoreIncomingPaths = ignoredPathsOf(options, env, warnEnv);

  return {
    serviceName,
    exporter,
    endpoint: options.endpoint,
    headers: options.headers,
    sampler,
    parentBased,
    instrumentations,
    resource,
    metrics,
    metricsIntervalMs,
    shutdownTimeoutMs: options.shutdownTimeoutMs ?? 5_000,
    handleSignals: options.handleSignals ?? true,
    ignoreIncomingPaths,
    logLevel,
    warnings,
  };
}

/** Records that an environment variable was ignored, and what it should have been. */
type WarnEnv = (name: string, expected: string) => void;

/** `exporter`, else `OTEL_TRACES_EXPORTER` and the OTLP protocol variables; default OTLP. */
function exporterOf(
  options: ParsedOptions,
  env: NodeJS.ProcessEnv,
  warnEnv: WarnEnv,
): ExporterName | SpanExporter {
  if (options.exporter !== undefined) return options.exporter;
  const named = env.OTEL_TRACES_EXPORTER?.trim().toLowerCase();
  const protocol = (
    env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ?? env.OTEL_EXPORTER_OTLP_PROTOCOL
  )?.trim();
  if (named !== undefined && named !== '' && !['otlp', 'console', 'none'].includes(named))
    warnEnv('OTEL_TRACES_EXPORTER', 'otlp, console or none');
  if (
    protocol !== undefined &&
    protocol !== '' &&
    !['http/protobuf', 'http/json'].includes(protocol)
  )
    warnEnv('OTEL_EXPORTER_OTLP_PROTOCOL', 'http/protobuf or http/json (grpc is not supported)');
  return named === 'console' || named === 'none'
    ? named
    : protocol === 'http/json'
      ? 'otlp-json'
      : 'otlp';
}

/** `sampler`, else `OTEL_TRACES_SAMPLER` (+ `_ARG`); default parent-based always on. */
function samplerOf(
  options: ParsedOptions,
  env: NodeJS.ProcessEnv,
  warnEnv: WarnEnv,
): { sampler: number | Sampler; parentBased: boolean } {
  if (options.sampler === 'always_on') return { sampler: 1, parentBased: true };
  if (options.sampler === 'always_off') return { sampler: 0, parentBased: true };
  if (options.sampler !== undefined) return { sampler: options.sampler, parentBased: true };
  const name = env.OTEL_TRACES_SAMPLER?.trim().toLowerCase();
  const arg = env.OTEL_TRACES_SAMPLER_ARG?.trim();
  let ratio = 1;
  if (arg !== undefined && arg !== '') {
    const value = Number(arg);
    if (Number.isFinite(value) && value >= 0 && value <= 1) ratio = value;
    else warnEnv('OTEL_TRACES_SAMPLER_ARG', 'a number between 0 and 1');
  }
  switch (name) {
    case undefined:
    case '':
    case 'parentbased_always_on':
      return { sampler: 1, parentBased: true };
    case 'parentbased_always_off':
      return { sampler: 0, parentBased: true };
    case 'parentbased_traceidratio':
      return { sampler: ratio, parentBased: true };
    case 'always_on':
      return { sampler: 1, parentBased: false };
    case 'always_off':
      return { sampler: 0, parentBased: false };
    case 'traceidratio':
      return { sampler: ratio, parentBased: false };
    default:
      warnEnv(
        'OTEL_TRACES_SAMPLER',
        'a supported sampler (parentbased_traceidratio, always_on, …)',
      );
      return { sampler: 1, parentBased: true };
  }
}

/** Each instrumentation: `instrumentations`, else `OTEL_NODE_ENABLED/DISABLED_INSTRUMENTATIONS`. */
function instrumentationsOf(
  options: ParsedOptions,
  env: NodeJS.ProcessEnv,
): Record<InstrumentationName, boolean> {
  const instrumentations = {} as Record<InstrumentationName, boolean>;
  const enabled = listEnv(env.OTEL_NODE_ENABLED_INSTRUMENTATIONS);
  const disabled = listEnv(env.OTEL_NODE_DISABLED_INSTRUMENTATIONS);
  for (const name of INSTRUMENTATION_NAMES) {
    const fromEnv = (enabled === undefined || enabled.includes(name)) && !disabled?.includes(name);
    instrumentations[name] = options.instrumentations?.[name] ?? fromEnv;
  }
  return instrumentations;
}

/** `OTEL_RESOURCE_ATTRIBUTES` (percent-decoded), then the `resource` option over it. */
function resourceOf(
  options: ParsedOptions,
  env: NodeJS.ProcessEnv,
  warnings: string[],
): Attributes {
  const resource: Attributes = {};
  for (const pair of (env.OTEL_RESOURCE_ATTRIBUTES ?? '').split(',')) {
    const at = pair.indexOf('=');
    if (at <= 0) continue;
    try {
      resource[decodeURIComponent(pair.slice(0, at).trim())] = decodeURIComponent(
        pair.slice(at + 1).trim(),
      );
    } catch {
      warnings.push(
        `OTEL_RESOURCE_ATTRIBUTES: "${pair}" is not percent-encoded correctly; ignored.`,
      );
    }
  }
  Object.assign(resource, options.resource);
  return resource;
}

/** `metricsIntervalMs`, else `OTEL_METRIC_EXPORT_INTERVAL`; default 60 s. */
function metricsIntervalOf(
  options: ParsedOptions,
  env: NodeJS.ProcessEnv,
  warnEnv: WarnEnv,
): number {
  if (options.metricsIntervalMs !== undefined) return options.metricsIntervalMs;
  if (env.OTEL_METRIC_EXPORT_INTERVAL) {
    const value = Number(env.OTEL_METRIC_EXPORT_INTERVAL);
    if (Number.isInteger(value) && value >= 100) return value;
    warnEnv('OTEL_METRIC_EXPORT_INTERVAL', 'a whole number of milliseconds >= 100');
  }
  return 60_000;
}

/** `logLevel`, else `OTEL_LOG_LEVEL`; default `warn`. */
function logLevelOf(
  options: ParsedOptions,
  env: NodeJS.ProcessEnv,
  warnEnv: WarnEnv,
): DiagLogLevelName {
  if (options.logLevel !== undefined) return options.logLevel;
  const levelEnv = env.OTEL_LOG_LEVEL?.trim().toLowerCase();
  if (levelEnv) {
    if (Object.hasOwn(DIAG_LEVELS, levelEnv)) return levelEnv as DiagLogLevelName;
    warnEnv('OTEL_LOG_LEVEL', 'none, error, warn, info, debug, verbose or all');
  }
  return 'warn';
}

/** `ignoreIncomingPaths`, else `BALLAST_TRACING_IGNORE_PATHS`; default the discovery probes. */
function ignoredPathsOf(
  options: ParsedOptions,
  env: NodeJS.ProcessEnv,
  warnEnv: WarnEnv,
): readonly string[] {
  if (options.ignoreIncomingPaths !== undefined) return options.ignoreIncomingPaths;
  const ignoreEnv = env.BALLAST_TRACING_IGNORE_PATHS;
  if (ignoreEnv === undefined) return DEFAULT_IGNORED_PATHS;
  const paths = ignoreEnv
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean);
  if (paths.every((path) => path.startsWith('/'))) return paths;
  warnEnv('BALLAST_TRACING_IGNORE_PATHS', 'a comma-separated list of paths starting with "/"');
  return DEFAULT_IGNORED_PATHS;
}

function listEnv(value: string | undefined): string[] | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  return value
    .split(',')
    .map((entry) => entry.trim().toLowerCase())
    .filter(Boolean);
}
