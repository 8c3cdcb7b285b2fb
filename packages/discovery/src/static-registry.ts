import type { Subscription } from '@ballast/kernel';
import { InvalidInstanceError, RegistryUnavailableError } from './errors.ts';
import {
  type Instance,
  type InstanceInput,
  normalizeInstance,
  type RegisteredInstance,
  type Registry,
  type WatchEvents,
} from './registry.ts';

/**
 * A {@link Registry} held in memory: the instances you give it, plus any registered at run time
 * in this process. For tests, local development, and deployments whose addresses are fixed.
 *
 * Every instance is checked when the registry is created (`INVALID_INSTANCE` names the first bad
 * field; two instances of one service with the same `id` are refused too).
 *
 * @example
 * const registry = staticRegistry([
 *   { service: 'orders', address: '10.0.0.5', port: 8080, zone: 'eu-west-1a' },
 *   { service: 'orders', address: '10.0.0.6', port: 8080, zone: 'eu-west-1b' },
 * ]);
 */
export function staticRegistry(instances: readonly InstanceInput[] = []): Registry {
  if (!Array.isArray(instances)) {
    throw new InvalidInstanceError('', 'staticRegistry() takes an array of instances.', instances);
  }
  return new StaticRegistry(instances);
}

type ServiceWatchers = Set<WatchEvents>;

class StaticRegistry implements Registry {
  readonly kind = 'static';
  readonly #services = new Map<string, Map<string, Instance>>();
  readonly #lists = new Map<string, readonly Instance[]>();
  readonly #watchers = new Map<string, ServiceWatchers>();
  #closed = false;

  constructor(inputs: readonly InstanceInput[]) {
    for (const input of inputs) {
      const instance = normalizeInstance(input);
      const byId = this.#byId(instance.service);
      if (byId.has(instance.id)) {
        throw new InvalidInstanceError(
          'id',
          `Two instances of service "${instance.service}" have the id "${instance.id}"; give each a unique id.`,
          instance.id,
        );
      }
      byId.set(instance.id, instance);
    }
  }

  #byId(service: string): Map<string, Instance> {
    let byId = this.#services.get(service);
    if (!byId) {
      byId = new Map();
      this.#services.set(service, byId);
    }
    return byId;
  }

  #list(service: string): readonly Instance[] {
    let list = this.#lists.get(service);
    if (!list) {
      list = Object.freeze([...(this.#services.get(service)?.values() ?? [])]);
      this.#lists.set(service, list);
    }
    return list;
  }

  #changed(service: string): void {
    this.#lists.delete(service);
    const watchers = this.#watchers.get(service);
    if (!watchers || watchers.size === 0) return;
    const list = this.#list(service);
    for (const events of [...watchers]) events.onInstances(list);
  }

  #checkOpen(): void {
    if (this.#closed) {
      throw new RegistryUnavailableError('static', 'the registry was closed');
    }
  }

  async register(
    input: InstanceInput,
    options?: { signal?: AbortSignal | undefined },
  ): Promise<RegisteredInstance> {
    options?.signal?.throwIfAborted();
    this.#checkOpen();
    let current = normalizeInstance(input);
    const { service, id } = current;
    this.#byId(service).set(id, current);
    this.#changed(service);
    let registered = true;
    const update = (next: Instance): void => {
      const byId = this.#services.get(service);
      if (!registered || byId?.get(id) !== current) return;
      current = next;
      byId.set(id, next);
      this.#changed(service);
    };
    return {
      instance: current,
      heartbeat: async (opts) => {
        opts?.signal?.throwIfAborted();
        this.#checkOpen();
      },
      setDraining: async (draining) => {
        this.#checkOpen();
        if (current.healthy === !draining) return;
        update(Object.freeze({ ...current, healthy: !draining }));
      },
      deregister: async (opts) => {
        opts?.signal?.throwIfAborted();
        if (!registered) return;
        registered = false;
        const byId = this.#services.get(service);
        if (byId?.get(id) === current) {
          byId.delete(id);
          this.#changed(service);
        }
      },
    };
  }

  async list(
    service: string,
    options?: { signal?: AbortSignal | undefined },
  ): Promise<readonly Instance[]> {
    options?.signal?.throwIfAborted();
    this.#checkOpen();
    return this.#list(service);
  }

  watch(service: string, events: WatchEvents): Subscription {
    this.#checkOpen();
    // A fresh object per watch, so the same listener pair can be subscribed twice.
    const entry: WatchEvents = {
      onInstances: (list) => events.onInstances(list),
      onError: (error) => events.onError(error),
    };
    let watchers = this.#watchers.get(service);
    if (!watchers) {
      watchers = new Set();
      this.#watchers.set(service, watchers);
    }
    watchers.add(entry);
    queueMicrotask(() => {
      if (this.#watchers.get(service)?.has(entry)) entry.onInstances(this.#list(service));
    });
    const dispose = (): void => {
      this.#watchers.get(service)?.delete(entry);
    };
    return { dispose, [Symbol.dispose]: dispose };
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#watchers.clear();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
