import { AsyncLocalStorage } from 'node:async_hooks';
import type { Context, ContextManager } from '@opentelemetry/api';
import { api } from './api.ts';

/**
 * OpenTelemetry's active context on one `AsyncLocalStorage`, with one addition the SDK's own
 * manager does not expose: {@link enter}, which makes a context active for the rest of the current
 * synchronous run and everything it schedules. The `diagnostics_channel` instrumentations use it:
 * `http.server.request.start` is published just before the server emits `'request'`, so entering
 * the server span's context there makes it the handler's context without wrapping the handler.
 */
export class AlsContextManager implements ContextManager {
  readonly #storage = new AsyncLocalStorage<Context>();
  readonly #root: Context = api().ROOT_CONTEXT;

  active(): Context {
    return this.#storage.getStore() ?? this.#root;
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
