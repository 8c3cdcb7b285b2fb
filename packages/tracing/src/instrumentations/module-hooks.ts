import { requireHere } from '../api.ts';
import type { Uninstall } from '../runtime.ts';

/**
 * Patches an instrumented package's exports: given the CommonJS `module.exports` (or the ESM
 * namespace's `default`), returns the value to use instead (the same one when patched in place).
 */
export type Patch = (exports: unknown) => unknown;

/**
 * Runs `patch` when one of `names` is loaded, through `require` (require-in-the-middle) or `import`
 * (import-in-the-middle, whose loader hook `@ballast/tracing/register` installs). Only the packages
 * that need patching go through this; everything else is instrumented on `diagnostics_channel`.
 */
export function onModuleLoad(names: string[], patch: Patch): Uninstall {
  const ritm = requireHere('require-in-the-middle') as typeof import('require-in-the-middle');
  const iitm = requireHere('import-in-the-middle') as typeof import('import-in-the-middle');
  const cjs = new ritm.Hook(names, (exports) => patch(exports) as typeof exports);
  const esm = new iitm.Hook(names, (namespace) => {
    const original = namespace.default;
    const patched = patch(original);
    if (patched !== original) {
      namespace.default = patched;
      for (const key of Object.keys(namespace))
        if (namespace[key] === original) namespace[key] = patched;
    }
  });
  return () => {
    cjs.unhook();
    esm.unhook();
  };
}
