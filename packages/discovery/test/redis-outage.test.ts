import { spawn } from 'node:child_process';
import { startRedisServer } from '@ballast/test-utils';
import { Redis } from 'ioredis';
import { request } from 'undici';
import { afterEach, expect, it, vi } from 'vitest';
import { redisRegistry, roundRobin } from '../src/index.ts';
import { discoveryDispatcher } from '../src/undici.ts';
import { startInstance } from './support/servers.ts';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A fresh, empty redis-server on `port` (after the first one was stopped). */
async function redisOn(port: number): Promise<{ stop(): Promise<void> }> {
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: 'ignore' },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const probe = new Redis(port, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 0 });
  probe.on('error', () => {});
  await vi.waitFor(() => probe.ping(), { timeout: 5000, interval: 50 });
  probe.disconnect();
  return {
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

it('keeps calling services by name through a Redis outage, from the last known good list', async () => {
  const redis = await startRedisServer();
  cleanups.push(() => redis.stop());
  const prefix = `discovery-outage:${Math.random().toString(36).slice(2)}:`;
  const instances = await Promise.all(['a', 'b'].map((name) => startInstance(name)));
  cleanups.push(() => Promise.all(instances.map((i) => i.kill())));

  // The services register themselves (through their own registry client)…
  const services = redisRegistry({ url: redis.url, prefix, ttlMs: 60_000, timeoutMs: 300 });
  cleanups.push(() => services.close());
  for (const instance of instances) {
    await services.register({
      id: instance.name,
      service: 'orders',
      address: '127.0.0.1',
      port: instance.port,
    });
  }
  // …and a client calls them by name through another.
  const clients = redisRegistry({ url: redis.url, prefix, timeoutMs: 300, resyncMs: 500 });
  cleanups.push(() => clients.close());
  const dispatcher = discoveryDispatcher({ registry: clients, balancer: roundRobin() });
  cleanups.push(() => dispatcher.close());
  const call = async () => {
    const response = await request('http://orders/api', { dispatcher });
    return response.body.text();
  };
  expect([await call(), await call()].sort()).toEqual(['a', 'b']);

  await redis.stop();
  const orders = dispatcher.resolver('orders');
  await vi.waitFor(() => expect(orders.status().state).toBe('stale'), { timeout: 10_000 });
  expect(orders.status().lastError?.code).toBe('REGISTRY_UNAVAILABLE');
  // Redis is down: the last known good list still serves every request.
  expect([await call(), await call(), await call(), await call()].sort()).toEqual([
    'a',
    'a',
    'b',
    'b',
  ]);

  // Redis back (empty: it kept nothing), the services register again: fresh once more.
  const again = await redisOn(redis.port);
  cleanups.push(() => again.stop());
  for (const instance of instances) {
    await vi.waitFor(
      () =>
        services.register({
          id: instance.name,
          service: 'orders',
          address: '127.0.0.1',
          port: instance.port,
        }),
      { timeout: 10_000, interval: 200 },
    );
  }
  await vi.waitFor(() => expect(orders.status().state).toBe('fresh'), { timeout: 10_000 });
  expect(await call()).toMatch(/^[ab]$/);
}, 30_000);
