import { ManualClock } from '@ballast/test-utils';
import { type OtelTestSdk, otelTestSdk } from '@ballast/test-utils/otel';
import { context, type Span, trace } from '@opentelemetry/api';
import { request } from 'undici';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { resolver, roundRobin, staticRegistry } from '../src/index.ts';
import { discoveryDispatcher } from '../src/undici.ts';
import { fleet, ManualRegistry } from './support/manual-registry.ts';
import { startInstance } from './support/servers.ts';

let sdk: OtelTestSdk;
beforeAll(() => {
  sdk = otelTestSdk();
});
afterAll(() => sdk.shutdown());

const points = (name: string) => sdk.metricPoints(name, '@ballast/discovery');

it('counts picks and ejections, and reports instances per state and staleness', async () => {
  const clock = new ManualClock(0);
  const registry = new ManualRegistry();
  const r = resolver({ registry, service: 'metrics-svc', clock, balancer: roundRobin() });
  registry.push('metrics-svc', fleet(10));
  for (let i = 0; i < 10; i++) r.pick().done('success');
  for (let i = 0; i < 50; i++) {
    const pick = r.pick();
    pick.done(pick.instance.id === 'i3' ? 'connect-error' : 'success');
  }
  registry.fail();
  clock.advance(1234);

  const picks = await points('ballast.discovery.picks');
  const total = picks
    .filter((p) => p.attributes['ballast.discovery.service'] === 'metrics-svc')
    .reduce((sum, p) => sum + (p.value as number), 0);
  expect(total).toBe(60);
  expect(picks.find((p) => p.attributes['ballast.discovery.instance'] === 'i3')?.value).toBe(6);

  const ejections = await points('ballast.discovery.ejections');
  expect(ejections).toEqual([
    expect.objectContaining({
      attributes: {
        'ballast.discovery.service': 'metrics-svc',
        'ballast.discovery.instance': 'i3',
      },
      value: 1,
    }),
  ]);

  const instances = await points('ballast.discovery.instances');
  const byState = Object.fromEntries(
    instances.map((p) => [p.attributes['ballast.discovery.state'], p.value]),
  );
  expect(byState).toEqual({ available: 9, ejected: 1, unhealthy: 0 });

  const staleness = await points('ballast.discovery.staleness');
  expect(staleness.map((p) => p.value)).toEqual([1234]);

  await r.close();
});

it('names the service and the instance on the active span, and records a retry', async () => {
  const ok = await startInstance('ok');
  const failing = await startInstance('failing', { kind: 'status', status: 503 });
  const dispatcher = discoveryDispatcher({
    registry: staticRegistry([
      { id: 'bad', service: 'orders', address: '127.0.0.1', port: failing.port },
      { id: 'good', service: 'orders', address: '127.0.0.1', port: ok.port },
    ]),
    balancer: roundRobin(),
  });
  const attributes: Record<string, unknown> = {};
  const events: { name: string; attributes: unknown }[] = [];
  const span = {
    isRecording: () => true,
    setAttributes: (a: Record<string, unknown>) => Object.assign(attributes, a),
    addEvent: (name: string, a: unknown) => events.push({ name, attributes: a }),
    spanContext: () => ({
      traceId: `${'0'.repeat(31)}1`,
      spanId: `${'0'.repeat(15)}1`,
      traceFlags: 1,
    }),
  } as unknown as Span;
  try {
    await context.with(trace.setSpan(context.active(), span), async () => {
      const response = await request('http://orders/x', { dispatcher });
      await response.body.text();
      expect(response.statusCode).toBe(200);
    });
    expect(attributes).toEqual({
      'ballast.discovery.service': 'orders',
      'ballast.discovery.instance': 'good',
    });
    expect(events).toEqual([
      {
        name: 'ballast.discovery.retry',
        attributes: {
          'ballast.discovery.service': 'orders',
          'ballast.discovery.instance': 'good',
          'ballast.discovery.attempt': 2,
        },
      },
    ]);
  } finally {
    await dispatcher.close();
    await ok.kill();
    await failing.kill();
  }
});
