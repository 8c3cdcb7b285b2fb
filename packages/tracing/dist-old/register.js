import { sdkDisabled, resolveConfig, parseTracingOptions, isTracingError, warn, startTracing, requireHere } from './chunk-HADH6W7O.js';
import { readFileSync } from 'fs';
import module$1 from 'module';

var PATCHED = ["koa", "pino"];
function installLoaderHook(include) {
  if (include.length === 0) return;
  const hooks = requireHere("import-in-the-middle/register-hooks.mjs");
  if (hooks.supportsSyncHooks()) {
    hooks.register({ include });
    return;
  }
  module$1.register("import-in-the-middle/hook.mjs", import.meta.url, { data: { include } });
}
function fileOptions() {
  const path = process.env.BALLAST_TRACING_CONFIG;
  if (path === void 0 || path === "") return void 0;
  try {
    const json = JSON.parse(readFileSync(path, "utf8"));
    const ballast = json?.ballast;
    return ballast?.tracing ?? json?.["ballast.tracing"] ?? json;
  } catch (error) {
    warn(
      `BALLAST_TRACING_CONFIG=${path} could not be read as JSON (${error instanceof Error ? error.message : String(error)}); using the environment only.`,
      "BALLAST_TRACING_BAD_ENV"
    );
    return void 0;
  }
}
var options = fileOptions();
var commonJs = typeof __filename === "string";
try {
  if (!commonJs && !sdkDisabled(process.env)) {
    const config = resolveConfig(parseTracingOptions(options ?? {}), process.env);
    installLoaderHook(PATCHED.filter((name) => config.instrumentations[name]));
  }
} catch (error) {
  if (!isTracingError(error))
    warn(
      `The ESM loader hook could not be installed (${String(error)}); koa and pino imported with "import" are not instrumented.`,
      "BALLAST_TRACING_LOADER_HOOK"
    );
}
startTracing(options);
//# sourceMappingURL=register.js.map
//# sourceMappingURL=register.js.map