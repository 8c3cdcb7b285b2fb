import { logFields } from '../log.ts';
import type { Uninstall } from '../runtime.ts';
import { onModuleLoad } from './module-hooks.ts';

const PATCHED = Symbol.for('@ballast/tracing.pino-patched');

type Mixin = (mergeObject: object, level: number, logger: unknown) => object;
type PinoFactory = ((...args: unknown[]) => unknown) & { [PATCHED]?: true };

/**
 * Log correlation for pino: the `pino()` factory is wrapped so that every logger it creates has a
 * mixin adding `trace_id`, `span_id` and `trace_flags` (after the application's own mixin, if any).
 */
export function instrumentPino(): Uninstall {
  return onModuleLoad(['pino'], (exports) => {
    if (typeof exports !== 'function' || (exports as PinoFactory)[PATCHED]) return exports;
    const original = exports as PinoFactory;
    const pino = function pino(this: unknown, ...args: unknown[]) {
      const first = args[0];
      const isOptions =
        first !== null &&
        typeof first === 'object' &&
        typeof (first as { write?: unknown }).write !== 'function';
      if (isOptions) {
        const options = first as { mixin?: Mixin };
        const own = options.mixin;
        args[0] = {
          ...options,
          mixin:
            own === undefined
              ? logFields
              : (m: object, l: number, g: unknown) => ({ ...own(m, l, g), ...logFields() }),
        };
      } else if (first === undefined) args[0] = { mixin: logFields };
      else args.unshift({ mixin: logFields });
      return original.apply(this, args);
    } as PinoFactory;
    Object.assign(pino, original);
    const self = pino as unknown as Record<string, unknown>;
    if (self.default === original) self.default = pino;
    if (self.pino === original) self.pino = pino;
    pino[PATCHED] = true;
    return pino;
  });
}
