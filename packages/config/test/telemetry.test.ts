import { type OtelTestSdk, otelTestSdk } from '@ballast/test-utils/otel';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createConfig, secret } from '../src/index.ts';
import { manualSource } from './support/sources.ts';

let sdk: OtelTestSdk;
beforeAll(() => {
  sdk = otelTestSdk();
});
afterAll(() => sdk.shutdown());

/** The data points of one of this package's metrics. */
const points = (name: string) => sdk.metricPoints(name, '@ballast/config');

const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('OpenTelemetry', () => {
  it('counts reloads by outcome, records the version and a span per reload, never a value', async () => {
    const remote = manualSource('redis shop:config', { port: 1, token: 'tok-abcdefgh' });
    const config = createConfig({
      schema: z.object({ port: z.number().int().positive(), token: secret(z.string()) }),
      sources: [remote],
    });
    await config.load();
    remote.values = { port: 2, token: 'tok-abcdefgh' };
    remote.change();
    await flush();
    remote.values = { port: -1, token: 'tok-abcdefgh' };
    remote.change();
    await flush();

    expect(await points('ballast.config.reloads')).toEqual(
      expect.arrayContaining([
        { attributes: { 'ballast.config.outcome': 'applied' }, value: 2 },
        { attributes: { 'ballast.config.outcome': 'rejected' }, value: 1 },
      ]),
    );
    expect(await points('ballast.config.version')).toEqual([{ attributes: {}, value: 2 }]);
    const reloads = sdk.finishedSpans().filter((s) => s.name === 'ballast.config.reload');
    expect(reloads.map((s) => [s.attributes['ballast.config.reason'], s.events[0]?.name])).toEqual([
      ['load', 'ballast.config.applied'],
      ['change', 'ballast.config.applied'],
      ['change', 'ballast.config.rejected'],
    ]);
    expect(reloads[1]?.events[0]?.attributes).toMatchObject({
      'ballast.config.version': 2,
      'ballast.config.changed_paths': 'port',
    });
    expect(JSON.stringify(reloads.map((s) => [s.attributes, s.events]))).not.toContain('tok-');
    await config.close();
  });
});
