import { InvalidOptionsError } from './errors.ts';

/** What a subscription returns: call `dispose()` (or use `using`) to stop listening. */
export interface Subscription extends Disposable {
  /** Stops the listener. Idempotent. */
  dispose(): void;
}

/** A function called with each event of one kind. */
export type Listener<E> = (event: E) => void;

const EMPTY: readonly never[] = Object.freeze([]);

/**
 * A copy-on-write list of listeners: emitting iterates the array current at that moment, so a
 * listener may subscribe or dispose while an event is emitted. A listener that throws does not
 * stop the others nor the caller's work: its error is rethrown on a microtask, where it surfaces
 * as an uncaught exception (a bug to fix), like an `EventEmitter` listener's would.
 */
export class ListenerList<E> {
  #list: readonly Listener<E>[] = EMPTY;
  readonly #onChange: (() => void) | undefined;

  constructor(onChange?: () => void) {
    this.#onChange = onChange;
  }

  /** Number of listeners. */
  get size(): number {
    return this.#list.length;
  }

  /** Adds `listener`; the returned subscription removes it. */
  add(listener: Listener<E>): Subscription {
    if (typeof listener !== 'function') {
      throw new InvalidOptionsError(
        'listener',
        `A listener must be a function (got ${typeof listener}).`,
      );
    }
    this.#list = [...this.#list, listener];
    this.#onChange?.();
    let active = true;
    const dispose = (): void => {
      if (!active) return;
      active = false;
      const index = this.#list.indexOf(listener);
      if (index >= 0) {
        this.#list = this.#list.filter((_, i) => i !== index);
        this.#onChange?.();
      }
    };
    return { dispose, [Symbol.dispose]: dispose };
  }

  /** Calls every listener with `event`. */
  emit(event: E): void {
    const list = this.#list;
    for (let i = 0; i < list.length; i++) {
      try {
        list[i]!(event);
      } catch (error) {
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }

  /** Removes every listener. */
  clear(): void {
    if (this.#list.length === 0) return;
    this.#list = EMPTY;
    this.#onChange?.();
  }
}
