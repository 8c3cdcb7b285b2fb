import { ManualClock } from '@ballast/test-utils';
import { context, metrics, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { circuitBreaker } from '../src/index.ts';

const metricExporter = new InMemoryMetricExporter(AggregationTemporality.DELTA);
const reader = new PeriodicExportingMetricReader({
  exporter: metricExporter,
  exportIntervalMillis: 3_600_000, // exported by hand with forceFlush()
});
const meterProvider = new MeterProvider({ readers: [reader] });
const spanExporter = new InMemorySpanExporter();
const tracerProvider = new BasicTracerProvider({
  spanProcessors: [new SimpleSpanProcessor(spanExporter)],
});
const contextManager = new AsyncLocalStorageContextManager();

beforeAll(() => {
  context.setGlobalContextManager(contextManager.enable());
  metrics.setGlobalMeterProvider(meterProvider);
  trace.setGlobalTracerProvider(tracerProvider);
});

afterAll(async () => {
  await meterProvider.shutdown();
  await tracerProvider.shutdown();
  metrics.disable();
  trace.disable();
  context.disable();
});

/** One exported data point, as far as these tests read it. */
interface Point {
  readonly attributes: Record<string, unknown>;
  readonly value: unknown;
}

/** The data points of one metric after a flush. */
async function points(name: string): Promise<Point[]> {
  metricExporter.reset();
  await reader.forceFlush();
  const found = metricExporter
    .getMetrics()
    .flatMap((resource) => resource.scopeMetrics)
    .filter((scope) => scope.scope.name === '@ballast/breaker')
    .flatMap((scope) => scope.metrics)
    .filter((metric) => metric.descriptor.name === name);
  return found.flatMap((metric) => metric.dataPoints as readonly Point[]);
}

describe('OpenTelemetry', () => {
  it('counts calls by outcome and slowness', async () => {
    const clock = new ManualClock();
    const breaker = circuitBreaker({
      name: 'inventory',
      clock,
      windowSize: 4,
      minimumCalls: 4,
      slowCallDurationMs: 100,
      ignoreError: (e) => (e as Error).message === 'ignored',
    });
    await breaker.execute(async () => 1);
    await breaker.execute(async () => 1);
    await breaker.execute(() => {
      clock.advance(150);
      return 1;
    });
    await breaker.execute(() => Promise.reject(new Error('ignored'))).catch(() => {});
    for (let i = 0; i < 4; i++)
      await breaker.execute(() => Promise.reject(new Error('x'))).catch(() => {});
    expect(breaker.state).toBe('OPEN');
    const counts = Object.fromEntries(
      (await points('ballast.breaker.calls'))
        .filter((p) => p.attributes['ballast.breaker.name'] === 'inventory')
        .map((p) => [
          `${p.attributes['ballast.breaker.outcome']}${p.attributes['ballast.breaker.slow'] ? ' slow' : ''}`,
          p.value,
        ]),
    );
    // The ignored call is not in the window; the 2nd failure makes it [ok, slow ok, fail, fail]:
    // 2 of 4 failed, the breaker opens and rejects the last two calls.
    expect(counts).toEqual({ success: 2, 'success slow': 1, ignored: 1, failure: 2, rejected: 2 });
  });

  it('reports each breaker state in the gauge', async () => {
    const open = circuitBreaker({ name: 'gauge-open' });
    const closed = circuitBreaker({ name: 'gauge-closed' });
    await closed.execute(async () => 1);
    await open.execute(async () => 1);
    open.transitionTo('OPEN');
    const states = Object.fromEntries(
      (await points('ballast.breaker.state')).map((p) => [
        p.attributes['ballast.breaker.name'],
        p.value,
      ]),
    );
    expect(states['gauge-open']).toBe(1);
    expect(states['gauge-closed']).toBe(0);
    open.close(); // leaves the gauge
    const after = (await points('ballast.breaker.state')).map(
      (p) => p.attributes['ballast.breaker.name'],
    );
    expect(after).not.toContain('gauge-open');
    expect(after).toContain('gauge-closed');
  });

  it('adds a span event on the active span at every state change', async () => {
    spanExporter.reset();
    const breaker = circuitBreaker({ name: 'payments', windowSize: 2, minimumCalls: 2 });
    const tracer = trace.getTracer('test');
    await tracer.startActiveSpan('checkout', async (span) => {
      for (let i = 0; i < 2; i++) {
        await breaker.execute(() => Promise.reject(new Error('down'))).catch(() => {});
      }
      span.end();
    });
    const [span] = spanExporter.getFinishedSpans();
    expect(span?.events.map((e) => [e.name, e.attributes])).toEqual([
      [
        'ballast.breaker.state_change',
        {
          'ballast.breaker.name': 'payments',
          'ballast.breaker.previous_state': 'CLOSED',
          'ballast.breaker.state': 'OPEN',
          'ballast.breaker.reason': 'failure-rate',
        },
      ],
    ]);
  });
});
