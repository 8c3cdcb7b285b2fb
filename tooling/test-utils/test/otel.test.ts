import { metrics, trace } from '@opentelemetry/api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type OtelTestSdk, otelTestSdk } from '../src/otel.ts';

describe('otelTestSdk', () => {
  let sdk: OtelTestSdk;
  beforeAll(() => {
    sdk = otelTestSdk({ temporality: 'delta' });
  });
  afterAll(() => sdk.shutdown());

  it('records spans that follow awaits, and metric points by meter', async () => {
    const tracer = trace.getTracer('test');
    await tracer.startActiveSpan('outer', async (outer) => {
      await new Promise((resolve) => setTimeout(resolve, 1));
      trace.getActiveSpan()?.addEvent('inside');
      outer.end();
    });
    expect(sdk.finishedSpans().map((span) => [span.name, span.events.map((e) => e.name)])).toEqual([
      ['outer', ['inside']],
    ]);
    sdk.reset();
    expect(sdk.finishedSpans()).toEqual([]);

    metrics.getMeter('mine').createCounter('calls').add(2, { kind: 'a' });
    metrics.getMeter('other').createCounter('calls').add(5);
    expect(await sdk.metricPoints('calls', 'mine')).toEqual([
      { attributes: { kind: 'a' }, value: 2 },
    ]);
    // Delta: nothing new since the previous read.
    expect(await sdk.metricPoints('calls', 'mine')).toEqual([]);
  });
});
