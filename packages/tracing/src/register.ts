/**
 * `node --import @ballast/tracing/register app.js` (ESM) or `node --require @ballast/tracing/register
 * app.js` (CommonJS): installs the ESM loader hook, then starts tracing from the `OTEL_*`
 * environment variables, before any application module loads. Importing it has that side effect
 * and nothing else; it exports nothing.
 *
 * @packageDocumentation
 */
import module from 'node:module';
import { requireHere } from './api.ts';
import { parseTracingOptions, resolveConfig, sdkDisabled } from './options.ts';
import { startTracing } from './start.ts';
import { warn } from './warnings.ts';

/** The packages the loader hook has to see (the rest is instrumented on diagnostics_channel). */
const PATCHED = ['koa', 'pino'] as const;

function installLoaderHook(include: string[]): void {
  if (include.length === 0) return;
  const hooks = requireHere('import-in-the-middle/register-hooks.mjs') as {
    register(options: { include: string[] }): void;
    supportsSyncHooks(): boolean;
  };
  if (hooks.supportsSyncHooks()) {
    // In-thread hooks (Node >= 22.22.3 / 24.11.1): in effect as soon as this returns.
    hooks.register({ include });
    return;
  }
  // The loader thread: module.register() returns once the hook is initialized, and the list of
  // modules to wrap travels with it, so no module is imported before the hook knows about it.
  module.register('import-in-the-middle/hook.mjs', import.meta.url, { data: { include } });
}

// `--require` (the CommonJS build) patches what is require()d, through require-in-the-middle alone:
// a CommonJS app needs no ESM loader hook (and import-in-the-middle's in-thread hook, installed
// from a --require preload, breaks `node -e`).
const commonJs = typeof __filename === 'string';
try {
  if (!commonJs && !sdkDisabled(process.env)) {
    const config = resolveConfig(parseTracingOptions({}), process.env);
    installLoaderHook(PATCHED.filter((name) => config.instrumentations[name]));
  }
} catch (error) {
  warn(
    `The ESM loader hook could not be installed (${String(error)}); koa and pino imported with "import" are not instrumented.`,
    'BALLAST_TRACING_LOADER_HOOK',
  );
}
startTracing();
