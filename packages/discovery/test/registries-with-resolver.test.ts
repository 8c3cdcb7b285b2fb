import { randomUUID } from 'node:crypto';
import { startRedisServer } from '@ballast/test-utils';
import type {} from '@ballast/test-utils/global-setup';
import { afterEach, describe, expect, inject, it, vi } from 'vitest';
import { redisRegistry, register, resolver, roundRobin } from '../src/index.ts';

// The registries end to end with the resolver: several "processes" (each a registry with its own
// Redis connection) register, crash, drain and leave, and a client's resolver follows them; when
// Redis itself goes away the resolver keeps serving the last known good list.

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const ids = (list: readonly { id: string }[]) => list.map((i) => i.id).sort();

describe('Redis registry → resolver', () => {
  it('follows processes that register, drain, leave and crash', async () => {
    const url = inject('redisUrl');
    const prefix = `test:discovery:${randomUUID()}:`;
    const processes = ['a', 'b', 'c'].map(() => {
      const registry = redisRegistry({ url, prefix, ttlMs: 1000 });
      cleanups.push(() => registry.close());
      return registry;
    });
    const [a, b, c] = processes as [
      ReturnType<typeof redisRegistry>,
      ReturnType<typeof redisRegistry>,
      ReturnType<typeof redisRegistry>,
    ];
    const regA = await register(
      a,
      { id: 'a', service: 'orders', address: '10.0.0.1', port: 80 },
      { signals: [], drainMs: 0 },
    );
    cleanups.push(() => regA.close());
    const regB = await register(
      b,
      { id: 'b', service: 'orders', address: '10.0.0.2', port: 80 },
      { signals: [], drainMs: 0, deregisterDelayMs: 300 },
    );
    // "c" registers once and never heartbeats: a process that froze or crashed.
    await c.register({ id: 'c', service: 'orders', address: '10.0.0.3', port: 80 });

    const clientRegistry = redisRegistry({ url, prefix });
    cleanups.push(() => clientRegistry.close());
    const orders = resolver({
      registry: clientRegistry,
      service: 'orders',
      balancer: roundRobin(),
    });
    cleanups.push(() => orders.close());
    await orders.ready();
    expect(ids(orders.instances())).toEqual(['a', 'b', 'c']);

    // The crashed process drops out after its TTL; the heartbeating ones stay.
    await vi.waitFor(() => expect(ids(orders.instances())).toEqual(['a', 'b']), { timeout: 5000 });

    // "b" shuts down gracefully: listed as draining (not picked), then gone.
    const closing = regB.close();
    await vi.waitFor(() =>
      expect(orders.instances().find((i) => i.id === 'b')?.healthy).toBe(false),
    );
    for (let i = 0; i < 10; i++) {
      const pick = orders.pick();
      expect(pick.instance.id).toBe('a');
      pick.done('success');
    }
    await closing;
    await vi.waitFor(() => expect(ids(orders.instances())).toEqual(['a']));
    expect(orders.status().state).toBe('fresh');
  });

  it('serves the last known good list while Redis is down', async () => {
    const server = await startRedisServer();
    cleanups.push(() => server.stop());
    const prefix = `test:discovery:${randomUUID()}:`;
    const service = redisRegistry({ url: server.url, prefix, timeoutMs: 300 });
    cleanups.push(() => service.close());
    await service.register({ id: 'a', service: 'orders', address: '10.0.0.1', port: 80 });
    const clientRegistry = redisRegistry({ url: server.url, prefix, timeoutMs: 300 });
    cleanups.push(() => clientRegistry.close());
    const orders = resolver({ registry: clientRegistry, service: 'orders', maxStaleMs: 60_000 });
    cleanups.push(() => orders.close());
    await orders.ready();

    await server.stop();
    await vi.waitFor(() => expect(orders.status().state).toBe('stale'));
    expect(orders.status().lastError?.code).toBe('REGISTRY_UNAVAILABLE');
    expect(orders.pick().instance.id).toBe('a');
  });
});
