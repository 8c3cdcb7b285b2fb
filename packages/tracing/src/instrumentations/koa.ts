import type { ServerResponse } from 'node:http';
import { ROUTE, type TracedResponse, type Uninstall } from '../runtime.ts';
import { onModuleLoad } from './module-hooks.ts';

const PATCHED = Symbol.for('@ballast/tracing.koa-patched');

interface KoaContext {
  _matchedRoute?: unknown;
}
type CreateContext = (
  this: unknown,
  req: unknown,
  res: ServerResponse & TracedResponse,
) => KoaContext;

/**
 * The Koa router's matched route (`ctx._matchedRoute`, set by `@koa/router`) on the request's
 * server span: Koa's `createContext` is wrapped to leave a route getter on the response. Koa
 * middleware get no spans of their own.
 */
export function instrumentKoa(): Uninstall {
  return onModuleLoad(['koa'], (exports) => {
    const proto = (exports as { prototype?: Record<string | symbol, unknown> } | undefined)
      ?.prototype;
    if (proto === undefined || typeof proto.createContext !== 'function' || proto[PATCHED])
      return exports;
    const original = proto.createContext as CreateContext;
    proto.createContext = function createContext(this: unknown, req, res) {
      const ctx = original.call(this, req, res);
      Object.defineProperty(res, ROUTE, {
        configurable: true,
        get: () => (typeof ctx._matchedRoute === 'string' ? ctx._matchedRoute : undefined),
        set: (value) =>
          Object.defineProperty(res, ROUTE, { value, writable: true, configurable: true }),
      });
      return ctx;
    } satisfies CreateContext;
    proto[PATCHED] = true;
    return exports;
  });
}
