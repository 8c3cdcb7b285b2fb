import { readFileSync } from 'node:fs';
import { metrics } from '@opentelemetry/api';
import { AggregationTemporality, MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import nock from 'nock';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { consulRegistry } from '../src/index.ts';

// A meter provider registered with the @opentelemetry/api the kernel's otel() loads (the root
// copy). test-utils' otelTestSdk() registers through its own nested, older copy of the API, whose
// globals a newer API refuses, so it would see nothing here.
class OnDemandReader extends MetricReader {
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}
const reader = new OnDemandReader({
  aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE,
});
const provider = new MeterProvider({ readers: [reader] });

async function metricPoints(name: string) {
  const { resourceMetrics } = await reader.collect();
  return resourceMetrics.scopeMetrics
    .filter((scope) => scope.scope.name === '@ballast/discovery')
    .flatMap((scope) => scope.metrics)
    .filter((metric) => metric.descriptor.name === name)
    .flatMap(
      (metric) => metric.dataPoints as { attributes: Record<string, unknown>; value: unknown }[],
    );
}

beforeAll(() => {
  metrics.disable();
  metrics.setGlobalMeterProvider(provider);
  nock.disableNetConnect();
});
afterAll(async () => {
  nock.cleanAll();
  nock.enableNetConnect();
  metrics.disable();
  await provider.shutdown();
});

const headers = { 'Content-Type': 'application/json', 'X-Consul-Index': '7' };

it('counts registry errors in ballast.discovery.registry.errors, by registry, service and code', async () => {
  const garbage = JSON.parse(
    readFileSync(
      new URL('./fixtures/consul/health-service-orders-garbage.json', import.meta.url),
      'utf8',
    ),
  );
  nock('http://127.0.0.1:8500')
    .get('/v1/health/service/orders')
    .query(true)
    .reply(500, 'rpc error making call: No cluster leader', { 'Content-Type': 'text/plain' })
    .get('/v1/health/service/orders')
    .query(true)
    .reply(200, garbage, headers);
  const registry = consulRegistry();
  await expect(registry.list('orders')).rejects.toThrow('No cluster leader');
  expect((await registry.list('orders')).map((i) => i.id)).toEqual(['orders-1']);
  await registry.close();
  const points = await metricPoints('ballast.discovery.registry.errors');
  const byCode = Object.fromEntries(points.map((p) => [p.attributes['error.type'], p.value]));
  expect(byCode).toEqual({ REGISTRY_UNAVAILABLE: 1, INVALID_INSTANCE: 7 });
  for (const point of points) {
    expect(point.attributes['ballast.discovery.registry']).toBe('consul');
    expect(point.attributes['ballast.discovery.service']).toBe('orders');
  }
});
