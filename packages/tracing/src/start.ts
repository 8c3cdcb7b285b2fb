import type {
  Attributes,
  Context,
  DiagLogger,
  Link,
  TextMapPropagator,
  Tracer,
} from '@opentelemetry/api';
import type { Resource } from '@opentelemetry/resources';
import type { Sampler, SpanProcessor } from '@opentelemetry/sdk-trace';
import { api, requireHere } from './api.ts';
import { AlsContextManager } from './context-manager.ts';
import { type InvalidOptionsError, isTracingError } from './errors.ts';
import { CountingExporter, createSpanExporter } from './exporters.ts';
import { PooledIdGenerator, PooledRatioSampler } from './ids.ts';
import { instrumentFastify } from './instrumentations/fastify.ts';
import { instrumentHttpClient } from './instrumentations/http-client.ts';
import { instrumentHttpServer } from './instrumentations/http-server.ts';
import { instrumentIoredis } from './instrumentations/ioredis.ts';
import { instrumentKoa } from './instrumentations/koa.ts';
import { instrumentPino } from './instrumentations/pino.ts';
import { instrumentUndici } from './instrumentations/undici.ts';
import { LazyMeterProvider } from './metrics.ts';
import {
  DIAG_LEVELS,
  INSTRUMENTATION_NAMES,
  type InstrumentationName,
  parseTracingOptions,
  type ResolvedConfig,
  resolveConfig,
  sdkDisabled,
  type TracingOptions,
} from './options.ts';
import type { Runtime, Uninstall } from './runtime.ts';
import { apiCopies, loadedPackages, warn } from './warnings.ts';

/** Where tracing is at. */
export type TracingState = 'running' | 'disabled' | 'failed' | 'shut-down';

/** What `status()` reports. */
export interface TracingStatus {
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
export interface TracingHandle {
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

/** Internals `createTestTracing()` passes in; not part of the public options. */
export interface EngineOverrides {
  readonly spanProcessor?: (config: ResolvedConfig) => SpanProcessor;
}

const INSTANCE = Symbol.for('@ballast/tracing.instance');
type Global = { [INSTANCE]?: TracingHandle };

/** Instrumented packages whose instrumentation patches them: loading them first defeats it. */
const PATCHED_PACKAGES: Partial<Record<InstrumentationName, string>> = { koa: 'koa', pino: 'pino' };

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
export function startTracing(options?: TracingOptions): TracingHandle {
  return startEngine(options, {});
}

/** The handle of the tracing started in this process, if any. */
export function activeTracing(): TracingHandle | undefined {
  return (globalThis as Global)[INSTANCE];
}

/** {@link startTracing}, with internals the testing entry point supplies. */
export function startEngine(
  options: TracingOptions | undefined,
  overrides: EngineOverrides,
): TracingHandle {
  const existing = (globalThis as Global)[INSTANCE];
  if (existing !== undefined) {
    if (options !== undefined && existing.status().state === 'running')
      warn(
        'startTracing() was called again; tracing is already running, so these options are ignored. Call it once, before the application loads.',
        'BALLAST_TRACING_ALREADY_STARTED',
      );
    return existing;
  }
  let handle: TracingHandle;
  try {
    handle = start(options, overrides);
  } catch (error) {
    const message = isTracingError(error, 'INVALID_OPTIONS')
      ? `${error.message} Tracing is off (no-op).`
      : `Tracing could not start and is off (no-op): ${error instanceof Error ? error.message : String(error)}`;
    warn(message, 'BALLAST_TRACING_START_FAILED');
    handle = noopHandle('failed', error instanceof Error ? error : new Error(String(error)), [
      message,
    ]);
  }
  (globalThis as Global)[INSTANCE] = handle;
  return handle;
}

function noopHandle(
  state: TracingState,
  error: Error | undefined,
  warnings: string[],
): TracingHandle {
  const status: TracingStatus = {
    state,
    serviceName: 'unknown_service:node',
    instrumentations: [],
    spansExported: 0,
    exportFailures: 0,
    lastExportError: undefined,
    instrumentationFaults: 0,
    error,
    warnings,
  };
  const done = async () => {};
  return {
    flush: done,
    shutdown: done,
    close: done,
    status: () => status,
    [Symbol.asyncDispose]: done,
  };
}

function start(options: TracingOptions | undefined, overrides: EngineOverrides): TracingHandle {
  const env = process.env;
  if (sdkDisabled(env) && overrides.spanProcessor === undefined)
    return noopHandle('disabled', undefined, []);
  const config = resolveConfig(parseTracingOptions(options), env);
  const warnings: string[] = [];
  const say = (message: string, code: string) => {
    warnings.push(message);
    warn(message, code);
  };
  for (const message of config.warnings) say(message, 'BALLAST_TRACING_BAD_ENV');

  const otel = api();
  otel.diag.setLogger(diagLogger(say), {
    logLevel: DIAG_LEVELS[config.logLevel],
    suppressOverrideMessage: true,
  });

  const { getResource, exporter, provider, contexts, propagator, sampler, ids } = createSdk(
    otel,
    config,
    overrides,
    env,
    say,
  );
  registerGlobally(otel, provider, contexts, propagator);
  const meters = config.metrics ? new LazyMeterProvider(config, getResource) : undefined;
  if (meters !== undefined) otel.metrics.setGlobalMeterProvider(meters);

  const { runtime, faults } = createRuntime(otel, provider, propagator, contexts, {
    sampler,
    ids,
    deterministic: typeof config.sampler === 'number',
    alwaysOn: config.sampler === 1,
  });

  const on = INSTRUMENTATION_NAMES.filter((name) => config.instrumentations[name]);
  warnAboutLoadOrder(on, say);
  const uninstall = installInstrumentations(config, runtime, say);

  let state: TracingState = 'running';
  let stopping: Promise<void> | undefined;
  const bounded = (work: Promise<unknown>) => withinMs(work, config.shutdownTimeoutMs);
  const flush = async () => {
    if (state !== 'running') return;
    await bounded(Promise.all([provider.forceFlush(), meters?.forceFlush()]));
  };
  const shutdown = () => {
    stopping ??= (async () => {
      for (const fn of uninstall.splice(0)) fn();
      removeSignals();
      await bounded(Promise.all([provider.shutdown(), meters?.shutdown()]));
      state = 'shut-down';
      unregisterGlobally(otel, meters !== undefined, contexts);
      if ((globalThis as Global)[INSTANCE] === handle) delete (globalThis as Global)[INSTANCE];
    })();
    return stopping;
  };
  const removeSignals = config.handleSignals ? onSignals(shutdown, flush) : () => {};

  const handle: TracingHandle = {
    flush,
    shutdown,
    close: shutdown,
    status: () => ({
      state,
      serviceName: config.serviceName,
      instrumentations: on,
      spansExported: exporter.stats.spansExported,
      exportFailures: exporter.stats.exportFailures,
      lastExportError: exporter.stats.lastExportError,
      instrumentationFaults: faults(),
      error: undefined,
      warnings,
    }),
    [Symbol.asyncDispose]: shutdown,
  };
  return handle;
}

type Say = (message: string, code: string) => void;

/**
 * The SDK's parts, not yet registered: the resource (built on first use), the counting exporter,
 * the tracer provider with its sampler and span processor, the context manager and the W3C
 * `traceparent` + `baggage` propagator.
 */
function createSdk(
  otel: ReturnType<typeof api>,
  config: ResolvedConfig,
  overrides: EngineOverrides,
  env: NodeJS.ProcessEnv,
  say: Say,
) {
  const trace = requireHere(
    '@opentelemetry/sdk-trace',
  ) as typeof import('@opentelemetry/sdk-trace');
  const core = requireHere('@opentelemetry/core') as typeof import('@opentelemetry/core');
  const getResource = lazyResource(config);

  const exporter = new CountingExporter(() => createSpanExporter(config));
  const processor =
    overrides.spanProcessor?.(config) ?? spanProcessor(trace, config, exporter, env, say);

  const ids = new PooledIdGenerator();
  const sampler = createSampler(trace, config, ids);
  const provider = new trace.TracerProvider({
    resource: getResource(),
    sampler,
    idGenerator: ids,
    spanProcessors: [processor],
    // The SDK's self-observability counters (spans started/ended) would cost every span a metric
    // update; they are left off.
    meterProvider: { getMeter: () => otel.createNoopMeter() },
  });
  const contexts = new AlsContextManager();
  const propagator: TextMapPropagator = new core.CompositePropagator({
    propagators: [new core.W3CTraceContextPropagator(), new core.W3CBaggagePropagator()],
  });
  return { getResource, exporter, provider, contexts, propagator, sampler, ids };
}

/** What {@link createRuntime} needs to start root server spans (see `startRoot` there). */
interface RootSampling {
  readonly sampler: Sampler;
  readonly ids: PooledIdGenerator;
  /** The sampler is one of ours (a ratio, parent-based or not): a pure function of the trace id. */
  readonly deterministic: boolean;
  /** It samples every root: asking it first would only add work. */
  readonly alwaysOn: boolean;
}

/**
 * What the instrumentations share: the tracer, the propagator, the contexts, and `fault()`, which
 * counts their unexpected errors (`faults()`) and warns about the first three.
 */
function createRuntime(
  otel: ReturnType<typeof api>,
  provider: ReturnType<typeof createSdk>['provider'],
  propagator: TextMapPropagator,
  contexts: AlsContextManager,
  sampling: RootSampling,
): { runtime: Runtime; faults: () => number } {
  let faults = 0;
  const tracer = provider.getTracer('@ballast/tracing');
  const runtime: Runtime = {
    tracer,
    propagator,
    contexts,
    startRoot: rootStarter(otel, tracer, contexts.root, sampling),
    fault: (where, error) => {
      faults += 1;
      if (faults <= 3) otel.diag.warn(`@ballast/tracing: ${where} failed: ${String(error)}`);
    },
  };
  return { runtime, faults: () => faults };
}

const NO_ATTRIBUTES: Readonly<Attributes> = Object.freeze({});
const NO_LINKS: readonly Link[] = Object.freeze([]);

/**
 * `startRoot` of the runtime: a span for a request that carries no trace context.
 *
 * Fast path, for an unsampled root: the SDK's `tracer.startSpan` would draw the ids, ask the
 * sampler, and on "drop" return `trace.wrapSpanContext({ traceId, spanId, traceFlags: NONE,
 * traceState })` — after allocating links and attributes and updating its self-metrics for a span
 * that records nothing. Here the trace id is drawn and the same sampler instance asked first; a
 * dropped trace gets exactly that non-recording span (same ids, flags 00, the sampler's trace
 * state), so everything started inside the request stays unsampled in the same trace
 * (parent-based) and outgoing requests carry its `traceparent` with flags 00. A trace the sampler
 * keeps is started by the SDK on the same trace id ({@link PooledIdGenerator.reserveTraceId}).
 *
 * Invariant: only for our own samplers (ratio, parent-based or not), which decide on the trace id
 * alone, so asking twice for a kept trace gives the same answer; a caller's sampler object (it may
 * count, or rate-limit) and the always-on ratio (nothing to save) take the SDK's path only.
 * Tested in sampling.test.ts.
 */
function rootStarter(
  otel: ReturnType<typeof api>,
  tracer: Tracer,
  root: Context,
  { sampler, ids, deterministic, alwaysOn }: RootSampling,
): Runtime['startRoot'] {
  if (!deterministic || alwaysOn) return (name, options) => tracer.startSpan(name, options, root);
  const NOT_RECORD = otel.SamplingDecision.NOT_RECORD;
  return (name, options) => {
    const traceId = ids.generateTraceId();
    const result = sampler.shouldSample(
      root,
      traceId,
      name,
      options.kind ?? otel.SpanKind.INTERNAL,
      NO_ATTRIBUTES,
      NO_LINKS as Link[],
    );
    if (result.decision === NOT_RECORD)
      return otel.trace.wrapSpanContext({
        traceId,
        spanId: ids.generateSpanId(),
        traceFlags: otel.TraceFlags.NONE,
        traceState: result.traceState,
      });
    ids.reserveTraceId(traceId);
    try {
      return tracer.startSpan(name, options, root);
    } finally {
      ids.reserveTraceId(undefined);
    }
  };
}

/** Undoes {@link registerGlobally} (and the meter provider's registration) at shutdown. */
function unregisterGlobally(
  otel: ReturnType<typeof api>,
  withMeters: boolean,
  contexts: AlsContextManager,
): void {
  otel.trace.disable();
  otel.context.disable();
  otel.propagation.disable();
  if (withMeters) otel.metrics.disable();
  contexts.disable();
}

/** The resource (defaults + the configured attributes), built on first use. */
function lazyResource(config: ResolvedConfig): () => Resource {
  const resources = requireHere(
    '@opentelemetry/resources',
  ) as typeof import('@opentelemetry/resources');
  let resource: Resource | undefined;
  return () => {
    resource ??= resources.defaultResource().merge(
      resources.resourceFromAttributes({
        ...config.resource,
        'service.name': config.serviceName,
        'process.pid': process.pid,
        'process.runtime.name': 'nodejs',
        'process.runtime.version': process.versions.node,
      }),
    );
    return resource;
  };
}

/** The span processor of the configured exporter: none, console (one at a time) or batched. */
function spanProcessor(
  trace: typeof import('@opentelemetry/sdk-trace'),
  config: ResolvedConfig,
  exporter: CountingExporter,
  env: NodeJS.ProcessEnv,
  say: Say,
): SpanProcessor {
  if (config.exporter === 'none') return new trace.NoopSpanProcessor();
  if (config.exporter === 'console') return new trace.SimpleSpanProcessor({ exporter });
  return new trace.BatchSpanProcessor({ exporter, ...batchSettings(env, say) });
}

/** Registers the SDK as the process's; throws, leaving the other SDK alone, if one is there. */
function registerGlobally(
  otel: ReturnType<typeof api>,
  provider: Parameters<ReturnType<typeof api>['trace']['setGlobalTracerProvider']>[0],
  contexts: AlsContextManager,
  propagator: TextMapPropagator,
): void {
  const registered = otel.trace.setGlobalTracerProvider(provider);
  const withContexts = registered && otel.context.setGlobalContextManager(contexts);
  if (!withContexts) {
    if (registered) otel.trace.disable(); // leave the other SDK's registrations as they were
    throw new Error(
      'another OpenTelemetry SDK is already registered in this process (a second tracing set-up, or two copies of @opentelemetry/api); start only one',
    );
  }
  otel.propagation.setGlobalPropagator(propagator);
}

/**
 * Warns about instrumented packages loaded before tracing started, and about several copies of
 * `@opentelemetry/api` (now, or once more a second later: `--import` runs before the application).
 */
function warnAboutLoadOrder(on: readonly InstrumentationName[], say: Say): void {
  const late = loadedPackages(on.flatMap((name) => PATCHED_PACKAGES[name] ?? []));
  for (const name of late)
    say(
      `${name} was loaded before tracing started, so its instrumentation does not apply to it. Start tracing first: node --import @ballast/tracing/register app.js (ESM) or --require @ballast/tracing/register (CommonJS).`,
      'BALLAST_TRACING_LOADED_TOO_EARLY',
    );
  const checkApiCopies = () => {
    const copies = apiCopies();
    if (copies.length > 1)
      say(
        `${copies.length} copies of @opentelemetry/api are loaded (${copies.join(', ')}); spans of the copies that did not register the SDK can be lost. Dedupe it (npm dedupe, one version range).`,
        'BALLAST_TRACING_API_COPIES',
      );
    return copies.length > 1;
  };
  if (!checkApiCopies()) {
    // --import runs before the application: look again once it has loaded.
    setTimeout(checkApiCopies, 1_000).unref();
  }
}

/** Installs the instrumentations that are on; one that fails is a warning. Returns their removers. */
function installInstrumentations(config: ResolvedConfig, runtime: Runtime, say: Say): Uninstall[] {
  const uninstall: Uninstall[] = [];
  const install = (name: InstrumentationName, fn: () => Uninstall) => {
    if (!config.instrumentations[name]) return;
    try {
      uninstall.push(fn());
    } catch (error) {
      say(
        `the ${name} instrumentation could not be installed: ${String(error)}`,
        'BALLAST_TRACING_INSTRUMENTATION',
      );
    }
  };
  install('http', () => {
    const server = instrumentHttpServer(runtime, {
      express: config.instrumentations.express,
      ignorePaths: new Set(config.ignoreIncomingPaths),
    });
    const client = instrumentHttpClient(runtime);
    return () => {
      server();
      client();
    };
  });
  install('undici', () => instrumentUndici(runtime));
  install('fastify', instrumentFastify);
  install('koa', instrumentKoa);
  install('ioredis', () => instrumentIoredis(runtime));
  install('pino', instrumentPino);
  return uninstall;
}

/** Waits for `work` (its rejection ignored) at most `ms`. */
async function withinMs(work: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
  });
  try {
    await Promise.race([work.catch(() => {}), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** The batch span processor's `OTEL_BSP_*` variables (SDK 3 leaves reading them to its caller). */
function batchSettings(env: NodeJS.ProcessEnv, say: (message: string, code: string) => void) {
  const settings: {
    maxQueueSize?: number;
    maxExportBatchSize?: number;
    scheduledDelayMillis?: number;
    exportTimeoutMillis?: number;
  } = {};
  const read = (name: string, key: keyof typeof settings) => {
    const raw = env[name]?.trim();
    if (raw === undefined || raw === '') return;
    const value = Number(raw);
    if (Number.isInteger(value) && value > 0) settings[key] = value;
    else
      say(
        `${name}=${JSON.stringify(raw)} is not a positive whole number; ignored.`,
        'BALLAST_TRACING_BAD_ENV',
      );
  };
  read('OTEL_BSP_MAX_QUEUE_SIZE', 'maxQueueSize');
  read('OTEL_BSP_MAX_EXPORT_BATCH_SIZE', 'maxExportBatchSize');
  read('OTEL_BSP_SCHEDULE_DELAY', 'scheduledDelayMillis');
  read('OTEL_BSP_EXPORT_TIMEOUT', 'exportTimeoutMillis');
  return settings;
}

function createSampler(
  trace: typeof import('@opentelemetry/sdk-trace'),
  config: ResolvedConfig,
  ids: PooledIdGenerator,
): Sampler {
  if (typeof config.sampler === 'object') return config.sampler;
  const ratio = config.sampler;
  const root =
    ratio >= 1
      ? new trace.AlwaysOnSampler()
      : ratio <= 0
        ? new trace.AlwaysOffSampler()
        : new PooledRatioSampler(ids, new trace.TraceIdRatioBasedSampler(ratio), ratio);
  return config.parentBased ? new trace.ParentBasedSampler({ root }) : root;
}

/** OpenTelemetry's diagnostics (exporter failures, …) as process warnings, at most 20 of them. */
function diagLogger(say: (message: string, code: string) => void): DiagLogger {
  let left = 20;
  const emit = (message: string, ...args: unknown[]) => {
    if (left <= 0) return;
    left -= 1;
    const text = [
      message,
      ...args.map((arg) => (arg instanceof Error ? arg.message : String(arg))),
    ].join(' ');
    say(`OpenTelemetry: ${text}`, 'BALLAST_TRACING_OTEL_DIAG');
  };
  const quiet = () => {};
  return { error: emit, warn: emit, info: quiet, debug: quiet, verbose: quiet };
}

/**
 * On SIGTERM/SIGINT: flush and shut down (bounded by `shutdownTimeoutMs`). When nothing else
 * listens for the signal, the signal is then raised again so that the process ends exactly as it
 * would have without tracing; when the application has its own handler, it stays in charge of
 * exiting and tracing only flushes (its shutdown then happens at `beforeExit`).
 */
function onSignals(shutdown: () => Promise<void>, flush: () => Promise<void>): () => void {
  const signals = ['SIGTERM', 'SIGINT'] as const;
  const handlers = new Map<NodeJS.Signals, () => void>();
  let beforeExit: (() => void) | undefined;
  for (const signal of signals) {
    const handler = () => {
      const alone = process.listenerCount(signal) === 1;
      if (alone) {
        void shutdown().then(() => process.kill(process.pid, signal));
      } else {
        void flush();
        if (beforeExit === undefined) {
          beforeExit = () => void shutdown();
          process.once('beforeExit', beforeExit);
        }
      }
    };
    handlers.set(signal, handler);
    process.on(signal, handler);
  }
  return () => {
    for (const [signal, handler] of handlers) process.removeListener(signal, handler);
    if (beforeExit !== undefined) process.removeListener('beforeExit', beforeExit);
  };
}
