import { randomUUID } from 'node:crypto';
import { type OtelTestSdk, otelTestSdk } from '@ballast/test-utils/otel';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { idempotency } from '../src/adapters/fetch.ts';
import { memoryStore } from '../src/index.ts';

let sdk: OtelTestSdk;
beforeAll(() => {
  sdk = otelTestSdk();
});
afterAll(() => sdk.shutdown());

describe('OpenTelemetry', () => {
  it('records the outcome on spans and counts events', async () => {
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

    const spans = sdk.finishedSpans();
    expect(spans.map((s) => s.attributes['ballast.idempotency.outcome'])).toEqual([
      'executed',
      'replayed',
      'mismatch',
    ]);
    expect(spans[0]!.name).toBe('idempotency POST');
    expect(spans[1]!.events.map((e) => e.name)).toEqual(['idempotency.replayed']);

    const points = await sdk.metricPoints('ballast.idempotency.events', '@ballast/idempotency');
    const byEvent = Object.fromEntries(
      points.map((p) => [p.attributes['ballast.idempotency.event'], p.value]),
    );
    expect(byEvent).toEqual({ executed: 1, replayed: 1, mismatch: 1, rejected: 1 });
  });
});
