import { ManualClock, startHttpServer } from '@ballast/test-utils';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  type DiscoveryError,
  type InstanceInput,
  isDiscoveryError,
  type RegisteredInstance,
  type Registry,
  RegistryUnavailableError,
  register,
  type ServiceRegistration,
  staticRegistry,
} from '../src/index.ts';

const orders: InstanceInput = { id: 'o1', service: 'orders', address: '127.0.0.1', port: 8080 };

/** A registry that records every call its handles get, around a static registry. */
function spyRegistry(options: { heartbeatIntervalMs?: number; failHeartbeats?: number } = {}) {
  const inner = staticRegistry();
  const calls: string[] = [];
  let failures = options.failHeartbeats ?? 0;
  const registry: Registry = {
    kind: 'spy',
    register: async (input, opts) => {
      calls.push('register');
      const handle = await inner.register(input, opts);
      const wrapped: RegisteredInstance = {
        instance: handle.instance,
        heartbeatIntervalMs: options.heartbeatIntervalMs,
        heartbeat: async () => {
          calls.push('heartbeat');
          if (failures > 0) {
            failures--;
            throw new RegistryUnavailableError('spy', 'heartbeat refused');
          }
        },
        setDraining: async (draining) => {
          calls.push(`draining:${draining}`);
          await handle.setDraining(draining);
        },
        deregister: async () => {
          calls.push('deregister');
          await handle.deregister();
        },
      };
      return wrapped;
    },
    list: (service, opts) => inner.list(service, opts),
    watch: (service, events) => inner.watch(service, events),
    close: () => inner.close(),
    [Symbol.asyncDispose]: () => inner.close(),
  };
  return { registry, calls, inner };
}

const registrations: ServiceRegistration[] = [];
afterEach(async () => {
  await Promise.all(registrations.splice(0).map((r) => r.close()));
});

async function track(promise: Promise<ServiceRegistration>): Promise<ServiceRegistration> {
  const registration = await promise;
  registrations.push(registration);
  return registration;
}

describe('register()', () => {
  it('heartbeats at the pace the registry asks for, on the clock', async () => {
    const clock = new ManualClock();
    const { registry, calls } = spyRegistry({ heartbeatIntervalMs: 1000 });
    const reg = await track(register(registry, orders, { clock, signals: [], drainMs: 0 }));
    expect(reg.instance.id).toBe('o1');
    expect(reg.state).toBe('registered');
    await clock.advanceAsync(999);
    expect(calls).toEqual(['register']);
    await clock.advanceAsync(1);
    expect(calls).toEqual(['register', 'heartbeat']);
    await clock.advanceAsync(2000);
    expect(calls.filter((c) => c === 'heartbeat')).toHaveLength(3);
  });

  it('heartbeatIntervalMs overrides the pace; a registry that needs none gets none', async () => {
    const clock = new ManualClock();
    const fast = spyRegistry({ heartbeatIntervalMs: 1000 });
    await track(
      register(fast.registry, orders, { clock, signals: [], heartbeatIntervalMs: 100, drainMs: 0 }),
    );
    await clock.advanceAsync(300);
    expect(fast.calls.filter((c) => c === 'heartbeat')).toHaveLength(3);
    const none = spyRegistry();
    await track(register(none.registry, orders, { clock, signals: [], drainMs: 0 }));
    await clock.advanceAsync(60_000);
    expect(none.calls).toEqual(['register']);
  });

  it('a failing heartbeat is reported through onError, and the heartbeats go on', async () => {
    const clock = new ManualClock();
    const { registry, calls } = spyRegistry({ heartbeatIntervalMs: 100, failHeartbeats: 1 });
    const reg = await track(register(registry, orders, { clock, signals: [], drainMs: 0 }));
    const errors: DiscoveryError[] = [];
    reg.onError((e) => errors.push(e));
    await clock.advanceAsync(100);
    expect(errors).toHaveLength(1);
    expect(isDiscoveryError(errors[0], 'REGISTRY_UNAVAILABLE')).toBe(true);
    await clock.advanceAsync(100);
    expect(calls.filter((c) => c === 'heartbeat')).toHaveLength(2);
    expect(errors).toHaveLength(1);
  });

  it('close(): draining, then deregistered, then waits for in-flight requests (up to drainMs)', async () => {
    const clock = new ManualClock();
    const { registry, calls, inner } = spyRegistry({ heartbeatIntervalMs: 100 });
    let inFlight = 2;
    const seen: boolean[] = [];
    inner.watch('orders', {
      onInstances: (l) => seen.push(...l.map((i) => i.healthy)),
      onError: () => {},
    });
    const reg = await track(
      register(registry, orders, { clock, signals: [], inFlight: () => inFlight, drainMs: 5000 }),
    );
    let closed = false;
    const closing = reg.close().then(() => {
      closed = true;
    });
    expect(reg.close()).toBe(reg.close()); // one shutdown, however often it is asked
    await clock.advanceAsync(0);
    expect(calls).toEqual(['register', 'draining:true', 'deregister']);
    expect(reg.state).toBe('draining');
    await clock.advanceAsync(1000);
    expect(closed).toBe(false);
    inFlight = 0;
    await clock.advanceAsync(25);
    await closing;
    expect(reg.state).toBe('closed');
    expect(clock.now()).toBeLessThan(2000);
    // Heartbeats stopped with the shutdown.
    await clock.advanceAsync(1000);
    expect(calls.filter((c) => c === 'heartbeat')).toHaveLength(0);
    expect(seen).toContain(false); // watchers saw the instance draining before it left
  });

  it('close() gives up waiting after drainMs when requests never finish', async () => {
    const clock = new ManualClock();
    const { registry } = spyRegistry();
    const reg = await track(
      register(registry, orders, { clock, signals: [], inFlight: () => 1, drainMs: 3000 }),
    );
    let closed = false;
    const closing = reg.close().then(() => {
      closed = true;
    });
    await clock.advanceAsync(2990);
    expect(closed).toBe(false);
    await clock.advanceAsync(10);
    await closing;
    expect(closed).toBe(true);
  });

  it('deregisterDelayMs keeps the instance listed as draining for a while before it leaves', async () => {
    const clock = new ManualClock();
    const { registry, calls } = spyRegistry();
    const reg = await track(
      register(registry, orders, { clock, signals: [], deregisterDelayMs: 2000, drainMs: 0 }),
    );
    const closing = reg.close();
    await clock.advanceAsync(1999);
    expect(calls).toEqual(['register', 'draining:true']);
    await clock.advanceAsync(1);
    await closing;
    expect(calls).toEqual(['register', 'draining:true', 'deregister']);
  });

  it('counts in-flight requests of a real HTTP server and lets them finish', async () => {
    let release = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    let arrived = () => {};
    const inFlight = new Promise<void>((resolve) => {
      arrived = resolve;
    });
    const http = await startHttpServer((_req, res) => {
      arrived();
      void held.then(() => res.end('done'));
    });
    try {
      const { registry, calls } = spyRegistry();
      const reg = await track(
        register(registry, orders, { signals: [], server: http.server, drainMs: 10_000 }),
      );
      const response = fetch(http.url).then((r) => r.text());
      await inFlight;
      let closed = false;
      const closing = reg.close().then(() => {
        closed = true;
      });
      await vi.waitFor(() => expect(calls).toContain('deregister'));
      // A close() that did not wait would have settled by the next turn of the event loop.
      await new Promise((resolve) => setImmediate(resolve));
      expect(closed).toBe(false); // the request is still in flight
      release();
      expect(await response).toBe('done');
      await closing;
      expect(closed).toBe(true);
    } finally {
      await http.close();
    }
  });

  it('SIGTERM starts the graceful shutdown', async () => {
    const { registry, calls } = spyRegistry();
    // Another SIGTERM listener: the test process must not be signalled again afterwards.
    const keepAlive = () => {};
    process.on('SIGTERM', keepAlive);
    try {
      const reg = await track(register(registry, orders, { drainMs: 0 }));
      process.emit('SIGTERM');
      await vi.waitFor(() => expect(reg.state).toBe('closed'));
      expect(calls).toEqual(['register', 'draining:true', 'deregister']);
    } finally {
      process.off('SIGTERM', keepAlive);
    }
  });

  it('close() removes its signal handlers', async () => {
    const before = process.listenerCount('SIGTERM');
    const { registry } = spyRegistry();
    const reg = await register(registry, orders, { drainMs: 0 });
    expect(process.listenerCount('SIGTERM')).toBe(before + 1);
    await reg.close();
    expect(process.listenerCount('SIGTERM')).toBe(before);
  });

  it('rejects bad input: options (INVALID_OPTIONS), instance (INVALID_INSTANCE), registry', async () => {
    const { registry } = spyRegistry();
    const bad = await register(registry, orders, { drainMs: -1 }).catch((e: unknown) => e);
    expect(isDiscoveryError(bad, 'INVALID_OPTIONS')).toBe(true);
    expect((bad as { option: string }).option).toBe('drainMs');
    const badSignal = await register(registry, orders, {
      signals: ['TERM' as NodeJS.Signals],
    }).catch((e: unknown) => e);
    expect((badSignal as { option: string }).option).toBe('signals.0');
    const instance = await register(registry, { ...orders, port: 0 }, { signals: [] }).catch(
      (e: unknown) => e,
    );
    expect(isDiscoveryError(instance, 'INVALID_INSTANCE')).toBe(true);
    const notRegistry = await register({} as Registry, orders).catch((e: unknown) => e);
    expect(isDiscoveryError(notRegistry, 'INVALID_OPTIONS')).toBe(true);
  });

  it('works with a real registry end to end (static)', async () => {
    const registry = staticRegistry();
    const reg = await track(register(registry, orders, { signals: [], drainMs: 0 }));
    expect((await registry.list('orders')).map((i) => i.id)).toEqual(['o1']);
    await reg.close();
    expect(await registry.list('orders')).toEqual([]);
  });
});

describe('markDraining() and deregister() (for a shutdown sequence that drains by itself)', () => {
  it('markDraining() marks the instance draining at once and keeps heartbeating; deregister() deregisters without waiting for a drain', async () => {
    const clock = new ManualClock();
    const { registry, calls } = spyRegistry({ heartbeatIntervalMs: 100 });
    const registration = await register(registry, orders, { signals: [], clock, drainMs: 60_000 });
    registrations.push(registration);
    await registration.markDraining();
    await registration.markDraining(); // idempotent
    expect(registration.state).toBe('draining');
    expect(calls).toEqual(['register', 'draining:true']);
    await clock.advanceAsync(100);
    expect(calls).toEqual(['register', 'draining:true', 'heartbeat']); // still registered
    await registration.deregister();
    await registration.deregister();
    expect(calls).toEqual(['register', 'draining:true', 'heartbeat', 'deregister']);
    await clock.advanceAsync(1000);
    expect(calls.filter((c) => c === 'heartbeat')).toHaveLength(1); // heartbeats stopped
    // close() afterwards neither marks nor deregisters again.
    const closing = registration.close();
    await clock.advanceAsync(60_000);
    await closing;
    expect(calls).toEqual(['register', 'draining:true', 'heartbeat', 'deregister']);
    expect(registration.state).toBe('closed');
  });
});
