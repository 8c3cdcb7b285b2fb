import type { OptionIssue } from './parse-options.ts';

/** What a subscription returns: call `dispose()` (or use `using`) to stop listening. */
export interface Subscription extends Disposable {
  /** Stops the listener. Idempotent. */
  dispose(): void;
}

/** A function called with each event of one kind. */
export type Listener<E> = (event: E) => void;

/** Options of a {@link ListenerList}. */
export interface ListenerListOptions {
  /** Called after a listener is added or removed (e.g. to leave a fast path). */
  onChange?: (() => void) | undefined;
  /** The package's `INVALID_OPTIONS` error, thrown when a listener is not a function. */
  error?: (new (issue: OptionIssue) => Error) | undefined;
}

const EMPTY: readonly never[] = Object.freeze([]);

/**
 * The one event primitive of every Ballast package: a copy-on-write list of listeners. Emitting
 * iterates the array current at that moment, so a listener may subscribe or dispose while an event
 * is emitted. A listener that throws stops neither the others nor the caller's work: its error is
 * rethrown on a microtask, where it surfaces as an uncaught exception (a bug to fix), as an
 * `EventEmitter` listener's would. Nothing is swallowed.
 */
export class ListenerList<E> {
  #list: readonly Listener<E>[] = EMPTY;
  readonly #options: ListenerListOptions;

  constructor(options: ListenerListOptions = {}) {
    this.#options = options;
  }

  /** Number of listeners. */
  get size(): number {
    return this.#list.length;
  }

  /** Adds `listener`; the returned subscription removes it. */
  add(listener: Listener<E>): Subscription {
    if (typeof listener !== 'function') {
      const message = `A listener must be a function (got ${typeof listener}).`;
      const ErrorClass = this.#options.error;
      throw ErrorClass === undefined
        ? new TypeError(message)
        : new ErrorClass({ option: 'listener', received: listener, message });
    }
    this.#list = [...this.#list, listener];
    this.#options.onChange?.();
    let active = true;
    const dispose = (): void => {
      if (!active) return;
      active = false;
      const index = this.#list.indexOf(listener);
      if (index >= 0) {
        this.#list = this.#list.filter((_, i) => i !== index);
        this.#options.onChange?.();
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
    this.#options.onChange?.();
  }
}
