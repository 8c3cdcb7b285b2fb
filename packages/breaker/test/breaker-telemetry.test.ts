import { ManualClock } from '@ballast/test-utils';
import { type OtelTestSdk, otelTestSdk } from '@ballast/test-utils/otel';
import { trace } from '@opentelemetry/api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { circuitBreaker } from '../src/index.ts';

let sdk: OtelTestSdk;
beforeAll(() => {
  sdk = otelTestSdk({ temporality: 'delta' });
});
afterAll(() => sdk.shutdown());

/** The data points of one breaker metric since the previous read. */
const points = (name: string) => sdk.metricPoints(name, '@ballast/breaker');

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
    sdk.reset();
    const breaker = circuitBreaker({ name: 'payments', windowSize: 2, minimumCalls: 2 });
    const tracer = trace.getTracer('test');
    await tracer.startActiveSpan('checkout', async (span) => {
      for (let i = 0; i < 2; i++) {
        await breaker.execute(() => Promise.reject(new Error('down'))).catch(() => {});
      }
      span.end();
    });
    const [span] = sdk.finishedSpans();
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
