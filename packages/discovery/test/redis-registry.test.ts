import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { freePort, startRedisServer } from '@ballast/test-utils';
import type {} from '@ballast/test-utils/global-setup';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, inject, it, vi } from 'vitest';
import {
  type DiscoveryError,
  type Instance,
  isDiscoveryError,
  type RedisRegistryOptions,
  type Registry,
  redisRegistry,
  register,
} from '../src/index.ts';

/** A redis-server on a given port (to restart Redis where the clients expect it), empty. */
async function redisServerOn(port: number): Promise<{ stop(): Promise<void> }> {
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

// Every registry below has its own Redis connection and stands for a separate process; they share
// only the Redis of the test run (and a key prefix of their own test).

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function newPrefix(): string {
  return `test:discovery:${randomUUID()}:`;
}

/** A "process": a registry with a client of its own. */
function processRegistry(prefix: string, options: RedisRegistryOptions = {}): Registry {
  const registry = redisRegistry({ url: inject('redisUrl'), prefix, ...options });
  cleanups.push(() => registry.close());
  return registry;
}

function recorder() {
  const lists: (readonly Instance[])[] = [];
  const errors: DiscoveryError[] = [];
  return {
    lists,
    errors,
    events: {
      onInstances: (list: readonly Instance[]) => lists.push(list),
      onError: (error: DiscoveryError) => errors.push(error),
    },
    last: () => lists.at(-1)?.map((i) => `${i.id}${i.healthy ? '' : ' (draining)'}`),
  };
}

describe('redisRegistry with several processes', () => {
  it('every process sees the others register, drain and deregister, through pub/sub', async () => {
    const prefix = newPrefix();
    const a = processRegistry(prefix);
    const b = processRegistry(prefix);
    const watcher = processRegistry(prefix);
    const rec = recorder();
    const sub = watcher.watch('orders', rec.events);
    await vi.waitFor(() => expect(rec.lists).toHaveLength(1));
    expect(rec.last()).toEqual([]);

    const ha = await a.register({
      id: 'a',
      service: 'orders',
      address: '10.0.0.1',
      port: 8080,
      zone: 'z1',
      tags: ['v2'],
      meta: { version: '2' },
      weight: 2,
    });
    await vi.waitFor(() => expect(rec.last()).toEqual(['a']));
    const hb = await b.register({ id: 'b', service: 'orders', address: '10.0.0.2', port: 8080 });
    await vi.waitFor(() => expect(rec.last()).toEqual(['a', 'b']));
    expect(rec.lists.at(-1)?.[0]).toEqual({
      id: 'a',
      service: 'orders',
      address: '10.0.0.1',
      port: 8080,
      tags: ['v2'],
      meta: { version: '2' },
      zone: 'z1',
      weight: 2,
      healthy: true,
    });

    await hb.setDraining(true);
    await vi.waitFor(() => expect(rec.last()).toEqual(['a', 'b (draining)']));
    await hb.setDraining(false);
    await vi.waitFor(() => expect(rec.last()).toEqual(['a', 'b']));
    await hb.deregister();
    await vi.waitFor(() => expect(rec.last()).toEqual(['a']));
    // list() from yet another process agrees.
    expect((await processRegistry(prefix).list('orders')).map((i) => i.id)).toEqual(['a']);
    await ha.deregister();
    await vi.waitFor(() => expect(rec.last()).toEqual([]));
    sub.dispose();
    expect(rec.errors).toEqual([]);
  });

  it('a process that stops heart-beating drops out after ttlMs; one that heartbeats stays', async () => {
    const prefix = newPrefix();
    const alive = processRegistry(prefix, { ttlMs: 1000 });
    const frozen = processRegistry(prefix, { ttlMs: 1000 });
    const watcher = processRegistry(prefix);
    const ha = await alive.register({
      id: 'alive',
      service: 'orders',
      address: '10.0.0.1',
      port: 80,
    });
    expect((ha as { heartbeatIntervalMs?: number }).heartbeatIntervalMs).toBe(333);
    await frozen.register({ id: 'frozen', service: 'orders', address: '10.0.0.2', port: 80 });
    const beat = setInterval(() => void ha.heartbeat(), 100);
    cleanups.push(() => clearInterval(beat));
    const rec = recorder();
    const started = Date.now();
    const sub = watcher.watch('orders', rec.events);
    await vi.waitFor(() => expect(rec.last()).toEqual(['alive', 'frozen']));
    // No notification comes from a frozen process: the watch wakes at the earliest expiry.
    await vi.waitFor(() => expect(rec.last()).toEqual(['alive']), { timeout: 5000 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(700);
    sub.dispose();
    // Its records are gone from Redis too (no clean-up job needed).
    const redis = new Redis(inject('redisUrl'));
    cleanups.push(() => redis.quit());
    expect(await redis.hkeys(`${prefix}{orders}:records`)).toEqual(['alive']);
  });

  it('a heartbeat after the record expired registers the instance again', async () => {
    const prefix = newPrefix();
    const p = processRegistry(prefix, { ttlMs: 200 });
    const watcher = processRegistry(prefix);
    const handle = await p.register({ id: 'x', service: 'orders', address: '10.0.0.1', port: 80 });
    const rec = recorder();
    const sub = watcher.watch('orders', rec.events);
    await vi.waitFor(() => expect(rec.last()).toEqual(['x']));
    await vi.waitFor(() => expect(rec.last()).toEqual([]), { timeout: 3000 });
    await handle.heartbeat();
    await vi.waitFor(() => expect(rec.last()).toEqual(['x']));
    sub.dispose();
  });

  it('close() deregisters what the process registered', async () => {
    const prefix = newPrefix();
    const p = processRegistry(prefix);
    const other = processRegistry(prefix);
    await p.register({ id: 'x', service: 'orders', address: '10.0.0.1', port: 80 });
    expect((await other.list('orders')).map((i) => i.id)).toEqual(['x']);
    await p.close();
    await p.close(); // idempotent
    expect(await other.list('orders')).toEqual([]);
    await expect(p.list('orders')).rejects.toSatisfy((e) =>
      isDiscoveryError(e, 'REGISTRY_UNAVAILABLE'),
    );
  });

  it('a malformed record is skipped and reported; the watch goes on', async () => {
    const prefix = newPrefix();
    const p = processRegistry(prefix);
    await p.register({ id: 'good', service: 'orders', address: '10.0.0.1', port: 80 });
    const redis = new Redis(inject('redisUrl'));
    cleanups.push(() => redis.quit());
    const future = Date.now() + 60_000;
    const bad: [string, string][] = [
      ['not-json', '{"id": "not-json", '],
      [
        'port-zero',
        JSON.stringify({ id: 'port-zero', service: 'orders', address: '10.0.0.2', port: 0 }),
      ],
      ['array', '[1, 2]'],
      [
        'other-id',
        JSON.stringify({ id: 'else', service: 'orders', address: '10.0.0.3', port: 80 }),
      ],
    ];
    for (const [id, raw] of bad) {
      await redis.zadd(`${prefix}{orders}:expiry`, future, id);
      await redis.hset(`${prefix}{orders}:records`, id, raw);
    }
    const rec = recorder();
    const sub = processRegistry(prefix).watch('orders', rec.events);
    await vi.waitFor(() => expect(rec.lists).toHaveLength(1));
    expect(rec.last()).toEqual(['good']);
    expect(rec.errors).toHaveLength(4);
    expect(rec.errors.every((e) => isDiscoveryError(e, 'INVALID_INSTANCE'))).toBe(true);
    // Still watching: a new instance arrives.
    await p.register({ id: 'new', service: 'orders', address: '10.0.0.4', port: 80 });
    await vi.waitFor(() => expect(rec.last()).toEqual(['good', 'new']));
    sub.dispose();
  });

  it('reads with scripts and pub/sub only: no KEYS or SCAN (watched with MONITOR)', async () => {
    const prefix = newPrefix();
    const monitor = await new Redis(inject('redisUrl')).monitor();
    cleanups.push(() => monitor.disconnect());
    const commands: string[] = [];
    monitor.on('monitor', (_time: string, args: string[]) => {
      if (args.some((a) => a.includes(prefix))) commands.push(String(args[0]).toLowerCase());
    });
    const p = processRegistry(prefix);
    const rec = recorder();
    const sub = processRegistry(prefix).watch('orders', rec.events);
    const h = await p.register({ id: 'x', service: 'orders', address: '10.0.0.1', port: 80 });
    await vi.waitFor(() => expect(rec.last()).toEqual(['x']));
    await h.heartbeat();
    await p.list('orders');
    sub.dispose();
    expect(commands.length).toBeGreaterThan(0);
    expect(commands.filter((c) => ['keys', 'scan', 'hscan', 'zscan'].includes(c))).toEqual([]);
  });

  it('reports REGISTRY_UNAVAILABLE to watches and callers when Redis goes away', async () => {
    const server = await startRedisServer();
    cleanups.push(() => server.stop());
    const prefix = newPrefix();
    const registry = redisRegistry({ url: server.url, prefix, timeoutMs: 300, backoffMaxMs: 200 });
    cleanups.push(() => registry.close());
    const rec = recorder();
    const sub = registry.watch('orders', rec.events);
    await vi.waitFor(() => expect(rec.lists).toHaveLength(1));
    await server.stop();
    await vi.waitFor(() => expect(rec.errors.length).toBeGreaterThanOrEqual(1));
    expect(isDiscoveryError(rec.errors[0], 'REGISTRY_UNAVAILABLE')).toBe(true);
    await expect(registry.list('orders')).rejects.toSatisfy((e) =>
      isDiscoveryError(e, 'REGISTRY_UNAVAILABLE'),
    );
    sub.dispose();
  });

  it('survives a Redis restart that lost every record: heartbeats register again, watches catch up', async () => {
    const first = await startRedisServer();
    cleanups.push(() => first.stop());
    const prefix = newPrefix();
    const service = redisRegistry({ url: first.url, prefix, ttlMs: 600, timeoutMs: 300 });
    const watcher = redisRegistry({ url: first.url, prefix, timeoutMs: 300, resyncMs: 500 });
    cleanups.push(() => watcher.close());
    cleanups.push(() => service.close());
    const registration = await register(
      service,
      { id: 'x', service: 'orders', address: '10.0.0.1', port: 80 },
      { signals: [], drainMs: 0 },
    );
    cleanups.push(() => registration.close());
    const heartbeatErrors: DiscoveryError[] = [];
    registration.onError((e) => heartbeatErrors.push(e));
    const rec = recorder();
    const sub = watcher.watch('orders', rec.events);
    await vi.waitFor(() => expect(rec.last()).toEqual(['x']));

    await first.stop();
    // Real I/O on a shared machine: a heartbeat fails only after its 300 ms timeout, and ioredis'
    // reconnect attempts can push that past vi.waitFor's 1 s default.
    await vi.waitFor(() => expect(rec.errors.length).toBeGreaterThan(0), { timeout: 5_000 });
    await vi.waitFor(() => expect(heartbeatErrors.length).toBeGreaterThan(0), { timeout: 5_000 });
    expect(isDiscoveryError(heartbeatErrors[0], 'REGISTRY_UNAVAILABLE')).toBe(true);

    // A new, empty Redis on the same port: the next heartbeat puts the instance back.
    const second = await redisServerOn(first.port);
    cleanups.push(() => second.stop());
    await vi.waitFor(() => expect(rec.last()).toEqual(['x']), { timeout: 10_000 });
    expect(rec.lists.some((list) => list.length === 0) || rec.errors.length > 0).toBe(true);
    sub.dispose();
  }, 20_000);

  it('a watch started while Redis is down reports REGISTRY_UNAVAILABLE instead of waiting silently', async () => {
    const registry = redisRegistry({
      url: `redis://127.0.0.1:${await freePort()}`,
      prefix: newPrefix(),
      timeoutMs: 200,
    });
    cleanups.push(() => registry.close());
    const rec = recorder();
    const sub = registry.watch('orders', rec.events);
    await vi.waitFor(() => expect(rec.errors.length).toBeGreaterThanOrEqual(1), { timeout: 3000 });
    expect(rec.errors.every((e) => isDiscoveryError(e, 'REGISTRY_UNAVAILABLE'))).toBe(true);
    expect(rec.lists).toEqual([]);
    sub.dispose();
  });

  it('validates its options (INVALID_OPTIONS names the option)', () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ url: 'http://localhost' }, 'url'],
      [{ ttlMs: 0 }, 'ttlMs'],
      [{ client: {} }, 'client'],
      [{ prefx: 'x' }, 'prefx'],
    ];
    for (const [options, option] of cases) {
      let error: unknown;
      try {
        redisRegistry(options as RedisRegistryOptions);
      } catch (e) {
        error = e;
      }
      expect(isDiscoveryError(error, 'INVALID_OPTIONS'), option).toBe(true);
      expect((error as { option: string }).option).toBe(option);
    }
  });

  it('works with a client you own, and leaves it open on close()', async () => {
    const client = new Redis(inject('redisUrl'));
    cleanups.push(() => client.quit());
    const prefix = newPrefix();
    const registry = redisRegistry({ client, prefix });
    await registry.register({ id: 'x', service: 'orders', address: '10.0.0.1', port: 80 });
    const rec = recorder();
    registry.watch('orders', rec.events);
    await vi.waitFor(() => expect(rec.last()).toEqual(['x']));
    await registry.close();
    expect(client.status).toBe('ready');
    expect(await client.exists(`${prefix}{orders}:expiry`)).toBe(0);
  });
});
