import type { Subscription } from '@ballast/kernel';
import {
  type DiscoveryError,
  type Instance,
  type InstanceInput,
  normalizeInstance,
  type RegisteredInstance,
  type Registry,
  RegistryUnavailableError,
  type WatchEvents,
} from '../../src/index.ts';

/** A registry the test drives by hand: `push()` a list, `fail()` an outage. */
export class ManualRegistry implements Registry {
  readonly kind = 'manual';
  readonly watchers = new Set<WatchEvents>();
  lists = new Map<string, readonly Instance[]>();

  /** While `true`, `list()` rejects as an unreachable registry would. */
  down = false;

  push(service: string, inputs: readonly Partial<InstanceInput>[]): readonly Instance[] {
    this.down = false;
    const list = inputs.map((input, i) =>
      normalizeInstance({ address: '127.0.0.1', port: 1000 + i, ...input, service }, service),
    );
    this.lists.set(service, list);
    for (const watcher of this.watchers) watcher.onInstances(list);
    return list;
  }

  fail(message = 'connection refused'): void {
    this.down = true;
    const error: DiscoveryError = new RegistryUnavailableError('manual', message);
    for (const watcher of this.watchers) watcher.onError(error);
  }

  report(error: DiscoveryError): void {
    for (const watcher of this.watchers) watcher.onError(error);
  }

  async register(): Promise<RegisteredInstance> {
    throw new Error('not used');
  }

  async list(service: string): Promise<readonly Instance[]> {
    if (this.down) throw new RegistryUnavailableError('manual', 'still down');
    return this.lists.get(service) ?? [];
  }

  watch(_service: string, events: WatchEvents): Subscription {
    this.watchers.add(events);
    const dispose = (): void => {
      this.watchers.delete(events);
    };
    return { dispose, [Symbol.dispose]: dispose };
  }

  async close(): Promise<void> {
    this.watchers.clear();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** `n` instances named i0…i(n-1). */
export function fleet(n: number, extra: Partial<InstanceInput> = {}): Partial<InstanceInput>[] {
  return Array.from({ length: n }, (_, i) => ({ id: `i${i}`, port: 2000 + i, ...extra }));
}
