import { ListenerList, type Subscription } from '@ballast/kernel';
import { InvalidOptionsError } from './errors.ts';
import { deepEqual } from './values.ts';

/**
 * The `subscribe(selector, listener)` subscriptions of a configuration: after each applied
 * snapshot, a listener is called when its selected value changed (compared structurally). A
 * selector or listener that throws is the kernel's `ListenerList` policy: the others still run,
 * and the error is rethrown on a microtask. @internal
 */
export class Subscribers {
  readonly #list = new ListenerList<unknown>({ error: InvalidOptionsError });

  /**
   * Subscribes; `current` is the snapshot in use, if any (a subscription made before `load()`
   * takes the first snapshot as its starting point, not as a change).
   */
  add(selector: unknown, listener: unknown, current: unknown): Subscription {
    for (const [option, value] of [
      ['selector', selector],
      ['listener', listener],
    ] as const) {
      if (typeof value !== 'function')
        throw new InvalidOptionsError({
          option,
          received: value,
          message: `config.subscribe(): the ${option} must be a function (got ${typeof value}).`,
        });
    }
    const select = selector as (config: unknown) => unknown;
    const call = listener as (next: unknown, previous: unknown) => void;
    let primed = current !== undefined;
    let last = primed ? select(current) : undefined;
    return this.#list.add((data) => {
      const next = select(data);
      if (!primed) {
        primed = true;
        last = next;
        return;
      }
      if (deepEqual(next, last)) return;
      const previous = last;
      last = next;
      call(next, previous);
    });
  }

  /** Tells every subscription that `data` is the snapshot in use. */
  notify(data: unknown): void {
    this.#list.emit(data);
  }
}
