import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
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
import { describe, expect, it } from 'vitest';
import { idempotency } from '../src/adapters/fetch.ts';
import { memoryStore } from '../src/index.ts';

// The copy of @opentelemetry/api the package reaches through the kernel's otel() (the SDK's peer
// range keeps an older copy beside this package; an app normally has one copy).
const { metrics, trace } = createRequire(createRequire(import.meta.url).resolve('@ballast/kernel'))(
  '@opentelemetry/api',
) as typeof import('@opentelemetry/api');

describe('OpenTelemetry', () => {
  it('records the outcome on spans and counts events', async () => {
    const spans = new InMemorySpanExporter();
    trace.setGlobalTracerProvider(
      new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] }),
    );
    const reader = new PeriodicExportingMetricReader({
      exporter: new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE),
      exportIntervalMillis: 3_600_000,
    });
    metrics.setGlobalMeterProvider(new MeterProvider({ readers: [reader] }));

    const handler = idempotency(async () => Response.json({ ok: true }, { status: 201 }), {
      store: memoryStore(),
    });
    const key = randomUUID();
    const request = (k: string | undefined, body: string) =>
      handler(
        new Request('http://127.0.0.1/pay', {
          method: 'POST',
          body,
          headers: k ? { 'idempotency-key': k } : {},
        }),
      );
    await request(key, '{"a":1}');
    await request(key, '{"a":1}');
    await request(key, '{"a":2}');
    await request(undefined, '{}');

    const outcomes = spans
      .getFinishedSpans()
      .map((s) => s.attributes['ballast.idempotency.outcome']);
    expect(outcomes).toEqual(['executed', 'replayed', 'mismatch']);
    expect(spans.getFinishedSpans()[0]!.name).toBe('idempotency POST');
    expect(spans.getFinishedSpans()[1]!.events.map((e) => e.name)).toEqual([
      'idempotency.replayed',
    ]);

    const { resourceMetrics } = await reader.collect();
    const counter = resourceMetrics.scopeMetrics
      .find((s) => s.scope.name === '@ballast/idempotency')!
      .metrics.find((m) => m.descriptor.name === 'ballast.idempotency.events')!;
    const byEvent = Object.fromEntries(
      counter.dataPoints.map((p) => [p.attributes['ballast.idempotency.event'], p.value]),
    );
    expect(byEvent).toEqual({ executed: 1, replayed: 1, mismatch: 1, rejected: 1 });
  });
});
