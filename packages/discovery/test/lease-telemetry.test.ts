import { randomUUID } from 'node:crypto';
import type {} from '@ballast/test-utils/global-setup';
import { otelTestSdk, type TestDataPoint } from '@ballast/test-utils/otel';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, inject, it, vi } from 'vitest';
import { campaign, redisLeaseBackend } from '../src/lease/index.ts';

const sdk = otelTestSdk();
const metricPoints = (name: string) => sdk.metricPoints(name, '@ballast/discovery');

afterAll(async () => {
  await sdk.shutdown();
});

it('a campaign reports a leader gauge and counts its transitions', async () => {
  const client = new Redis(inject('redisUrl'));
  const election = `election-${randomUUID()}`;
  const c = campaign(redisLeaseBackend({ client, prefix: 'test:lease:' }), election, {
    ttlMs: 1000,
  });
  try {
    await vi.waitFor(() => expect(c.isLeader()).toBe(true), { timeout: 5000 });
    const mine = (points: TestDataPoint[]) =>
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
