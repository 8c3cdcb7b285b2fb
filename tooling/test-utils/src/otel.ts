import { createRequire } from 'node:module';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  AggregationTemporality,
  type DataPoint,
  MeterProvider,
  MetricReader,
  type ResourceMetrics,
} from '@opentelemetry/sdk-metrics';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';

type OpenTelemetryApi = typeof import('@opentelemetry/api');

/**
 * The `@opentelemetry/api` copy that `@ballast/kernel`'s `otel()` loads. The globals are registered
 * through it: an API copy only reads globals registered by its own or a newer minor version, and
 * the SDK packages pin an older one (sdk-trace-base 2.x wants api < 1.10). `@ballast/kernel` is
 * found through the workspace (not declared: the kernel's own tests use this package).
 */
function kernelApi(): OpenTelemetryApi {
  const kernel = createRequire(import.meta.url).resolve('@ballast/kernel');
  return createRequire(kernel)('@opentelemetry/api') as OpenTelemetryApi;
}

/** Options of {@link otelTestSdk}. */
export interface OtelTestSdkOptions {
  /**
   * How counters are reported by {@link OtelTestSdk.metricPoints}: `'cumulative'` (the default:
   * totals since the SDK was installed) or `'delta'` (what changed since the previous read; a gauge
   * that stopped reporting disappears).
   */
  temporality?: 'cumulative' | 'delta' | undefined;
}

/** One data point of a metric, as tests read it. */
export interface TestDataPoint {
  readonly attributes: Record<string, unknown>;
  readonly value: unknown;
}

/** An in-memory OpenTelemetry SDK registered as the global one for a test file. */
export interface OtelTestSdk {
  /** Every span ended since the SDK was installed or last {@link reset}. */
  finishedSpans(): ReadableSpan[];
  /** Collects the metrics now (in the chosen temporality). */
  collect(): Promise<ResourceMetrics>;
  /** The data points of metric `name`, optionally only from the meter named `scope`. */
  metricPoints(name: string, scope?: string): Promise<TestDataPoint[]>;
  /** Forgets the finished spans. */
  reset(): void;
  /** Shuts the providers down and unregisters the global tracer, meter and context manager. */
  shutdown(): Promise<void>;
}

/** A metric reader that only exports when a test asks ({@link MetricReader.collect}). */
class OnDemandReader extends MetricReader {
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

/**
 * Registers an in-memory tracer provider, meter provider and an AsyncLocalStorage context manager
 * as the global ones (so spans started in a test follow its awaits), and gives the test what they
 * recorded. Call it in `beforeAll` and `shutdown()` in `afterAll`; a test file holds one at a time.
 */
export function otelTestSdk(options: OtelTestSdkOptions = {}): OtelTestSdk {
  const temporality =
    options.temporality === 'delta'
      ? AggregationTemporality.DELTA
      : AggregationTemporality.CUMULATIVE;
  const spans = new InMemorySpanExporter();
  const reader = new OnDemandReader({ aggregationTemporalitySelector: () => temporality });
  const tracerProvider = new BasicTracerProvider({
    spanProcessors: [new SimpleSpanProcessor(spans)],
  });
  const meterProvider = new MeterProvider({ readers: [reader] });
  const contextManager = new AsyncLocalStorageContextManager();
  const { context, metrics, trace } = kernelApi();
  // A file may have installed one before (or a previous test file in the same worker).
  trace.disable();
  metrics.disable();
  context.disable();
  context.setGlobalContextManager(contextManager.enable());
  trace.setGlobalTracerProvider(tracerProvider);
  metrics.setGlobalMeterProvider(meterProvider);

  const collect = async (): Promise<ResourceMetrics> => {
    const { resourceMetrics, errors } = await reader.collect();
    if (errors.length > 0) throw new AggregateError(errors, 'metric collection failed');
    return resourceMetrics;
  };

  return {
    finishedSpans: () => spans.getFinishedSpans(),
    collect,
    async metricPoints(name, scope) {
      const collected = await collect();
      return collected.scopeMetrics
        .filter((scopeMetrics) => scope === undefined || scopeMetrics.scope.name === scope)
        .flatMap((scopeMetrics) => scopeMetrics.metrics)
        .filter((metric) => metric.descriptor.name === name)
        .flatMap((metric) => metric.dataPoints as readonly DataPoint<unknown>[])
        .map((point) => ({ attributes: { ...point.attributes }, value: point.value }));
    },
    reset: () => spans.reset(),
    async shutdown() {
      await meterProvider.shutdown();
      await tracerProvider.shutdown();
      trace.disable();
      metrics.disable();
      context.disable();
    },
  };
}
