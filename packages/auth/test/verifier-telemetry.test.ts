import { ManualClock } from '@ballast/test-utils';
import { type OtelTestSdk, otelTestSdk } from '@ballast/test-utils/otel';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createVerifier } from '../src/index.ts';
import { createTestIssuer, type TestIssuer } from '../src/testing/index.ts';
import { trace } from './otel-api.ts';

const clock = new ManualClock(Date.UTC(2030, 0, 1));
let sdk: OtelTestSdk;
let issuer: TestIssuer;

beforeAll(async () => {
  sdk = otelTestSdk();
  issuer = await createTestIssuer({ clock, algorithms: ['ES256'] });
});
afterAll(async () => {
  await issuer.close();
  await sdk.shutdown();
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
  const finished = sdk.finishedSpans();
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

  const points = (await sdk.metricPoints('ballast.auth.verifications')).map((p) => [
    p.attributes,
    p.value,
  ]);
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
  const fetches = await sdk.metricPoints('ballast.auth.jwks.fetches');
  expect(fetches.map((p) => [p.attributes, p.value])).toEqual([
    [{ 'ballast.auth.outcome': 'success' }, 1],
  ]);
  verifier.close();
});
