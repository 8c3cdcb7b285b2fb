import { randomUUID } from 'node:crypto';
import type {} from '@ballast/test-utils/global-setup';
import { metrics } from '@opentelemetry/api';
import { AggregationTemporality, MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, inject, it, vi } from 'vitest';
import { campaign, redisLeaseBackend } from '../src/lease/index.ts';

// A meter provider registered with the @opentelemetry/api the kernel's otel() loads (the root copy).
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
});
afterAll(async () => {
  metrics.disable();
  await provider.shutdown();
});

it('a campaign reports a leader gauge and counts its transitions', async () => {
  const client = new Redis(inject('redisUrl'));
  const election = `election-${randomUUID()}`;
  const c = campaign(redisLeaseBackend({ client, prefix: 'test:lease:' }), election, {
    ttlMs: 1000,
  });
  try {
    await vi.waitFor(() => expect(c.isLeader()).toBe(true), { timeout: 5000 });
    const mine = (points: { attributes: Record<string, unknown>; value: unknown }[]) =>
      points.filter((p) => p.attributes['ballast.discovery.election'] === election);
    expect(mine(await metricPoints('ballast.discovery.leader')).map((p) => p.value)).toEqual([1]);
    await c.resign();
    expect(mine(await metricPoints('ballast.discovery.leader')).map((p) => p.value)).toEqual([0]);
    const transitions = mine(await metricPoints('ballast.discovery.leader.transitions'));
    expect(
      transitions.map((p) => [
        p.attributes['ballast.discovery.transition'],
        p.attributes['ballast.discovery.reason'],
        p.value,
      ]),
    ).toEqual([
      ['elected', undefined, 1],
      ['lost', 'released', 1],
    ]);
  } finally {
    await c.close();
    await client.quit();
  }
});
