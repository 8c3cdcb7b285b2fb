import { AsyncLocalStorage } from 'node:async_hooks';
import { ManualClock } from '@ballast/test-utils';
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
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createVerifier } from '../src/index.ts';
import { createTestIssuer, type TestIssuer } from '../src/testing/index.ts';
import {
  type Context,
  type ContextManager,
  context,
  metrics,
  ROOT_CONTEXT,
  trace,
} from './otel-api.ts';

const spans = new InMemorySpanExporter();
const reader = new PeriodicExportingMetricReader({
  exporter: new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE),
  exportIntervalMillis: 3_600_000,
});
const clock = new ManualClock(Date.UTC(2030, 0, 1));
let issuer: TestIssuer;

/** A minimal AsyncLocalStorage context manager, so active spans follow awaits. */
function contextManager(): ContextManager {
  const storage = new AsyncLocalStorage<Context>();
  const manager: ContextManager = {
    active: () => storage.getStore() ?? ROOT_CONTEXT,
    with: (ctx, fn, thisArg, ...args) => storage.run(ctx, () => fn.call(thisArg, ...args)),
    bind: (_ctx, target) => target,
    enable: () => manager,
    disable: () => {
      storage.disable();
      return manager;
    },
  };
  return manager;
}

beforeAll(async () => {
  context.setGlobalContextManager(contextManager());
  trace.setGlobalTracerProvider(
    new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] }),
  );
  metrics.setGlobalMeterProvider(new MeterProvider({ readers: [reader] }));
  issuer = await createTestIssuer({ clock, algorithms: ['ES256'] });
});
afterAll(async () => {
  await issuer.close();
  trace.disable();
  metrics.disable();
  context.disable();
});

it('records the outcome on spans and counters, never the token', async () => {
  const verifier = createVerifier({
    issuer: issuer.url,
    audience: issuer.audience,
    jwksUri: issuer.jwksUri,
    algorithms: ['ES256'],
    clock,
    cache: { admitFirstUse: true },
  });
  const token = await issuer.sign({ sub: 'u' });
  const expired = await issuer.sign({ exp: Math.floor(clock.now() / 1000) - 60 });
  const tracer = trace.getTracer('test');
  await tracer.startActiveSpan('GET /orders', async (request) => {
    await verifier.verify(token);
    await verifier.verify(token);
    await verifier.verify(expired).catch(() => {});
    request.end();
  });
  const finished = spans.getFinishedSpans();
  const verifies = finished.filter((s) => s.name === 'ballast.auth.verify');
  expect(verifies.map((s) => s.attributes)).toEqual([
    expect.objectContaining({
      'ballast.auth.outcome': 'valid',
      'ballast.auth.cache': 'miss',
      'ballast.auth.alg': 'ES256',
    }),
    expect.objectContaining({
      'ballast.auth.outcome': 'invalid',
      'ballast.auth.reason': 'expired',
    }),
  ]);
  const parent = finished.find((s) => s.name === 'GET /orders')!;
  expect(parent.attributes['ballast.auth.outcome']).toBe('invalid'); // the last verification
  const dump = JSON.stringify(finished.map((s) => [s.attributes, s.events]));
  expect(dump).not.toContain(token.split('.')[2]);
  expect(dump).not.toContain(expired.split('.')[2]);

  const { resourceMetrics } = await reader.collect();
  const points = resourceMetrics.scopeMetrics
    .flatMap((s) => s.metrics)
    .filter((m) => m.descriptor.name === 'ballast.auth.verifications')
    .flatMap((m) => m.dataPoints.map((p) => [p.attributes, p.value]));
  expect(points).toEqual(
    expect.arrayContaining([
      [{ 'ballast.auth.outcome': 'valid', 'ballast.auth.cache': 'miss' }, 1],
      [{ 'ballast.auth.outcome': 'valid', 'ballast.auth.cache': 'hit' }, 1],
      [
        {
          'ballast.auth.outcome': 'invalid',
          'ballast.auth.reason': 'expired',
          'ballast.auth.cache': 'miss',
        },
        1,
      ],
    ]),
  );
  const fetches = resourceMetrics.scopeMetrics
    .flatMap((s) => s.metrics)
    .find((m) => m.descriptor.name === 'ballast.auth.jwks.fetches');
  expect(fetches?.dataPoints.map((p) => [p.attributes, p.value])).toEqual([
    [{ 'ballast.auth.outcome': 'success' }, 1],
  ]);
  verifier.close();
});
