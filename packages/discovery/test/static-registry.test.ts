import { describe, expect, it } from 'vitest';
import { type Instance, isDiscoveryError, staticRegistry } from '../src/index.ts';

function collect(): {
  lists: (readonly Instance[])[];
  errors: unknown[];
  onInstances(l: readonly Instance[]): void;
  onError(e: unknown): void;
} {
  const lists: (readonly Instance[])[] = [];
  const errors: unknown[] = [];
  return { lists, errors, onInstances: (l) => lists.push(l), onError: (e) => errors.push(e) };
}

const tick = () => new Promise<void>((resolve) => queueMicrotask(resolve));

describe('staticRegistry', () => {
  it('lists the instances of a service, and [] for an unknown one', async () => {
    const registry = staticRegistry([
      { service: 'orders', address: '10.0.0.5', port: 8080 },
      { service: 'orders', address: '10.0.0.6', port: 8080, zone: 'b' },
      { service: 'payments', address: '10.0.0.7', port: 9090 },
    ]);
    expect(registry.kind).toBe('static');
    const orders = await registry.list('orders');
    expect(orders.map((i) => i.id)).toEqual(['10.0.0.5:8080', '10.0.0.6:8080']);
    expect(orders[1]?.zone).toBe('b');
    expect(await registry.list('nobody')).toEqual([]);
    await registry.close();
  });

  it('refuses a malformed instance or a duplicate id at construction', () => {
    expect(() => staticRegistry([{ service: 'orders', address: 'h', port: 0 }])).toThrow(
      expect.objectContaining({ code: 'INVALID_INSTANCE', field: 'port' }),
    );
    expect(() =>
      staticRegistry([
        { service: 'orders', address: 'h', port: 1 },
        { service: 'orders', address: 'h', port: 1 },
      ]),
    ).toThrow(expect.objectContaining({ code: 'INVALID_INSTANCE', field: 'id' }));
    expect(() => staticRegistry('orders' as never)).toThrow(
      expect.objectContaining({ code: 'INVALID_INSTANCE' }),
    );
  });

  it('pushes the current list to a watcher at once and after every change', async () => {
    const registry = staticRegistry([{ service: 'orders', address: 'a', port: 1 }]);
    const events = collect();
    const sub = registry.watch('orders', events);
    expect(events.lists).toHaveLength(0); // asynchronously, like every registry
    await tick();
    expect(events.lists.map((l) => l.map((i) => i.id))).toEqual([['a:1']]);

    const handle = await registry.register({ service: 'orders', address: 'b', port: 2, weight: 3 });
    expect(handle.instance).toMatchObject({ id: 'b:2', weight: 3, healthy: true });
    expect(events.lists.at(-1)?.map((i) => i.id)).toEqual(['a:1', 'b:2']);

    await handle.setDraining(true);
    expect(events.lists.at(-1)?.find((i) => i.id === 'b:2')?.healthy).toBe(false);
    await handle.setDraining(true); // no change, no event
    expect(events.lists).toHaveLength(3);
    await handle.setDraining(false);
    expect(events.lists.at(-1)?.find((i) => i.id === 'b:2')?.healthy).toBe(true);

    await handle.heartbeat();
    await handle.deregister();
    await handle.deregister(); // idempotent
    expect(events.lists.at(-1)?.map((i) => i.id)).toEqual(['a:1']);
    expect(events.lists).toHaveLength(5);

    sub.dispose();
    await registry.register({ service: 'orders', address: 'c', port: 3 });
    expect(events.lists).toHaveLength(5);
    expect(events.errors).toEqual([]);
    await registry.close();
  });

  it('only notifies watchers of the service that changed', async () => {
    const registry = staticRegistry();
    const orders = collect();
    const payments = collect();
    registry.watch('orders', orders);
    registry.watch('payments', payments);
    await tick();
    await registry.register({ service: 'payments', address: 'p', port: 1 });
    expect(orders.lists).toEqual([[]]);
    expect(payments.lists.map((l) => l.length)).toEqual([0, 1]);
    await registry.close();
  });

  it('replaces an instance registered again with the same id', async () => {
    await using registry = staticRegistry();
    const first = await registry.register({ service: 'orders', id: 'o1', address: 'a', port: 1 });
    await registry.register({ service: 'orders', id: 'o1', address: 'b', port: 2 });
    expect((await registry.list('orders')).map((i) => i.address)).toEqual(['b']);
    // The replaced handle no longer owns the record.
    await first.deregister();
    expect((await registry.list('orders')).map((i) => i.address)).toEqual(['b']);
  });

  it('rejects a malformed registration with INVALID_INSTANCE', async () => {
    await using registry = staticRegistry();
    await expect(registry.register({ service: 'orders', address: '', port: 80 })).rejects.toSatisfy(
      (e) => isDiscoveryError(e, 'INVALID_INSTANCE') && e.field === 'address',
    );
  });

  it('honours an aborted signal', async () => {
    await using registry = staticRegistry();
    const signal = AbortSignal.abort();
    await expect(registry.list('orders', { signal })).rejects.toMatchObject({ name: 'AbortError' });
    await expect(
      registry.register({ service: 'orders', address: 'a', port: 1 }, { signal }),
    ).rejects.toMatchObject({ name: 'AbortError' });
  });

  it('answers REGISTRY_UNAVAILABLE once closed; close is idempotent', async () => {
    const registry = staticRegistry([{ service: 'orders', address: 'a', port: 1 }]);
    const events = collect();
    registry.watch('orders', events);
    await registry.close();
    await registry.close();
    await tick();
    expect(events.lists).toEqual([]);
    await expect(registry.list('orders')).rejects.toSatisfy((e) =>
      isDiscoveryError(e, 'REGISTRY_UNAVAILABLE'),
    );
    expect(() => registry.watch('orders', events)).toThrow(
      expect.objectContaining({ code: 'REGISTRY_UNAVAILABLE' }),
    );
  });
});
