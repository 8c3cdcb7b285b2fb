/**
 * `node --import @ballast/tracing/register app.js` (ESM) or `node --require @ballast/tracing/register
 * app.js` (CommonJS): installs the ESM loader hook, then starts tracing from the `OTEL_*`
 * environment variables, before any application module loads. Importing it has that side effect
 * and nothing else; it exports nothing.
 *
 * @packageDocumentation
 */
import { readFileSync } from 'node:fs';
import module from 'node:module';
import { requireHere } from './api.ts';
import { isTracingError } from './errors.ts';
import { parseTracingOptions, resolveConfig, sdkDisabled, type TracingOptions } from './options.ts';
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

/**
 * Options from the JSON file `BALLAST_TRACING_CONFIG` names: the options object itself, or one
 * under `ballast.tracing` (so the file can be a section of a larger configuration file).
 */
function fileOptions(): TracingOptions | undefined {
  const path = process.env.BALLAST_TRACING_CONFIG;
  if (path === undefined || path === '') return undefined;
  try {
    const json = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown> | null;
    const ballast = json?.ballast as Record<string, unknown> | undefined;
    return (ballast?.tracing ?? json?.['ballast.tracing'] ?? json) as TracingOptions;
  } catch (error) {
    warn(
      `BALLAST_TRACING_CONFIG=${path} could not be read as JSON (${error instanceof Error ? error.message : String(error)}); using the environment only.`,
      'BALLAST_TRACING_BAD_ENV',
    );
    return undefined;
  }
}

const options = fileOptions();

// `--require` (the CommonJS build) patches what is require()d, through require-in-the-middle alone:
// a CommonJS app needs no ESM loader hook (and import-in-the-middle's in-thread hook, installed
// from a --require preload, breaks `node -e`).
const commonJs = typeof __filename === 'string';
try {
  if (!commonJs && !sdkDisabled(process.env)) {
    const config = resolveConfig(parseTracingOptions(options ?? {}), process.env);
    installLoaderHook(PATCHED.filter((name) => config.instrumentations[name]));
  }
} catch (error) {
  if (!isTracingError(error))
    warn(
      `The ESM loader hook could not be installed (${String(error)}); koa and pino imported with "import" are not instrumented.`,
      'BALLAST_TRACING_LOADER_HOOK',
    );
  // bad options: startTracing() below reports them
}
startTracing(options);
