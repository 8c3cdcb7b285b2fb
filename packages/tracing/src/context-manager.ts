import { AsyncLocalStorage } from 'node:async_hooks';
import type { Context, ContextManager } from '@opentelemetry/api';

const DELETED: unique symbol = Symbol('deleted');
/** Past this many links, `setValue` copies the live entries into a fresh, short chain. */
const COMPACT_AT = 32;

/**
 * An OpenTelemetry `Context` as a chain of (key, value) links: `setValue` allocates one small
 * object. The API's own context copies its whole `Map` and creates three closures on every
 * `setValue`, which every request pays once for its span (and again for baggage, a suppression, …).
 */
class ChainContext implements Context {
  readonly #parent: ChainContext | undefined;
  readonly #key: symbol | undefined;
  readonly #value: unknown;
  readonly #depth: number;

  constructor(parent: ChainContext | undefined, key: symbol | undefined, value: unknown) {
    this.#parent = parent;
    this.#key = key;
    this.#value = value;
    this.#depth = parent === undefined ? 0 : parent.#depth + 1;
  }

  getValue(key: symbol): unknown {
    for (let link: ChainContext | undefined = this; link !== undefined; link = link.#parent)
      if (link.#key === key) return link.#value === DELETED ? undefined : link.#value;
    return undefined;
  }

  setValue(key: symbol, value: unknown): Context {
    const base = this.#depth < COMPACT_AT ? this : this.#compacted();
    return new ChainContext(base, key, value);
  }

  deleteValue(key: symbol): Context {
    return this.getValue(key) === undefined ? this : this.setValue(key, DELETED);
  }

  /** The same entries (latest value of each key), one link each. */
  #compacted(): ChainContext {
    const latest = new Map<symbol, unknown>();
    for (let link: ChainContext | undefined = this; link !== undefined; link = link.#parent)
      if (link.#key !== undefined && !latest.has(link.#key)) latest.set(link.#key, link.#value);
    let chain = ROOT;
    for (const [key, value] of [...latest].reverse())
      if (value !== DELETED) chain = new ChainContext(chain, key, value);
    return chain;
  }
}

const ROOT = new ChainContext(undefined, undefined, undefined);

/**
 * OpenTelemetry's active context on one `AsyncLocalStorage`, with one addition the SDK's own
 * manager does not expose: {@link enter}, which makes a context active for the rest of the current
 * synchronous run and everything it schedules. The `diagnostics_channel` instrumentations use it:
 * `http.server.request.start` is published just before the server emits `'request'`, so entering
 * the server span's context there makes it the handler's context without wrapping the handler.
 */
export class AlsContextManager implements ContextManager {
  readonly #storage = new AsyncLocalStorage<Context>();
  /** The empty context (a {@link ChainContext}: everything derived from it is one too). */
  readonly root: Context = ROOT;

  active(): Context {
    return this.#storage.getStore() ?? ROOT;
  }

  with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(
    context: Context,
    fn: F,
    thisArg?: ThisParameterType<F>,
    ...args: A
  ): ReturnType<F> {
    const target = thisArg === undefined ? fn : (fn.bind(thisArg) as F);
    return this.#storage.run(context, target, ...args);
  }

  bind<T>(context: Context, target: T): T {
    if (typeof target !== 'function') return target;
    const storage = this.#storage;
    const fn = target as unknown as (...args: unknown[]) => unknown;
    return function bound(this: unknown, ...args: unknown[]) {
      return storage.run(context, () => fn.apply(this, args));
    } as T;
  }

  /** Makes `context` active from here on in this synchronous run (see the class comment). */
  enter(context: Context): void {
    this.#storage.enterWith(context);
  }

  enable(): this {
    return this;
  }

  disable(): this {
    this.#storage.disable();
    return this;
  }
}
