import { readFileSync } from 'node:fs';
import { otelTestSdk } from '@ballast/test-utils/otel';
import nock from 'nock';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { consulRegistry } from '../src/index.ts';

const sdk = otelTestSdk();
const metricPoints = (name: string) => sdk.metricPoints(name, '@ballast/discovery');

beforeAll(() => {
  nock.disableNetConnect();
});
afterAll(async () => {
  nock.cleanAll();
  nock.enableNetConnect();
  await sdk.shutdown();
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
