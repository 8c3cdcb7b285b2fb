import { randomUUID } from 'node:crypto';
import { memoryStore } from '@ballast/idempotency';
import type {} from '@ballast/test-utils/global-setup'; // types inject('redisUrl')
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { settingsSchema } from '../lib/settings.ts';
import { consume, publish, type StreamMessage } from '../lib/streams.ts';

describe('the configuration schema (what a live push is checked against)', () => {
  it('fills every default from an empty document', () => {
    const settings = settingsSchema.parse({});
    expect(settings.faults).toEqual({
      slow: {},
      slowBaseMs: 10,
      errorRate: {},
      paymentsOutage: false,
    });
    expect(settings.orders.expiry.intervalMs).toBe(1000);
    expect(settings.auth.jwksRefreshMs).toBe(2000);
  });

  it('accepts the fault flags the scenarios push', () => {
    const pushed = {
      faults: { slow: { 'inventory-2': 10 }, errorRate: { catalog: 0.2 }, paymentsOutage: true },
    };
    expect(settingsSchema.safeParse(pushed).success).toBe(true);
  });

  it('refuses an invalid push: a wrong type, a value out of range, an unknown key', () => {
    expect(settingsSchema.safeParse({ faults: { paymentsOutage: 'yes' } }).success).toBe(false);
    expect(settingsSchema.safeParse({ faults: { errorRate: { inventory: 5 } } }).success).toBe(
      false,
    );
    expect(settingsSchema.safeParse({ faults: { paymentOutage: true } }).success).toBe(false);
    expect(settingsSchema.safeParse({ resilience: { payments: { timeoutMs: -1 } } }).success).toBe(
      false,
    );
  });
});

describe('Redis Streams with idempotent consumers', () => {
  let redis: Redis;
  beforeAll(() => {
    redis = new Redis(inject('redisUrl'), { maxRetriesPerRequest: 1 });
  });
  afterAll(async () => {
    await redis.quit();
  });

  it('a message published twice (a redelivery) is handled once, and the handler gets it whole', async () => {
    const stream = `test:shop:stream:${randomUUID()}`;
    const handled: StreamMessage<{ orderId: string }>[] = [];
    const controller = new AbortController();
    const consumer = consume<{ orderId: string }>({
      redis,
      stream,
      group: 'test',
      consumer: 'c1',
      store: memoryStore(),
      log: pino({ level: 'silent' }),
      signal: controller.signal,
      handler: async (message) => {
        handled.push(message);
      },
    });
    const message = { id: 'ship-ord_1', type: 'shipment.requested', data: { orderId: 'ord_1' } };
    await publish(redis, stream, message);
    await publish(redis, stream, message);
    await publish(redis, stream, { ...message, id: 'ship-ord_2', data: { orderId: 'ord_2' } });
    const deadline = Date.now() + 5000;
    while (consumer.processed() < 3 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));
    controller.abort();
    await consumer.stopped;

    expect(consumer.processed()).toBe(3);
    expect(consumer.duplicates()).toBe(1);
    expect(handled.map((m) => m.data.orderId)).toEqual(['ord_1', 'ord_2']);
    expect(handled[0]).toMatchObject({ id: 'ship-ord_1', type: 'shipment.requested' });
    // Every entry was acknowledged: nothing stays pending for another consumer to claim.
    const pending = (await redis.xpending(stream, 'test')) as [number, ...unknown[]];
    expect(pending[0]).toBe(0);
    await redis.del(stream);
  });
});
