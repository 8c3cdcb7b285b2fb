'use strict';

var chunk2QE56LMZ_cjs = require('./chunk-2QE56LMZ.cjs');
var fs = require('fs');
var module$1 = require('module');

var _documentCurrentScript = typeof document !== 'undefined' ? document.currentScript : null;
function _interopDefault (e) { return e && e.__esModule ? e : { default: e }; }

var module__default = /*#__PURE__*/_interopDefault(module$1);

var PATCHED = ["koa", "pino"];
function installLoaderHook(include) {
  if (include.length === 0) return;
  const hooks = chunk2QE56LMZ_cjs.requireHere("import-in-the-middle/register-hooks.mjs");
  if (hooks.supportsSyncHooks()) {
    hooks.register({ include });
    return;
  }
  module__default.default.register("import-in-the-middle/hook.mjs", (typeof document === 'undefined' ? require('u' + 'rl').pathToFileURL(__filename).href : (_documentCurrentScript && _documentCurrentScript.tagName.toUpperCase() === 'SCRIPT' && _documentCurrentScript.src || new URL('register.cjs', document.baseURI).href)), { data: { include } });
}
function fileOptions() {
  const path = process.env.BALLAST_TRACING_CONFIG;
  if (path === void 0 || path === "") return void 0;
  try {
    const json = JSON.parse(fs.readFileSync(path, "utf8"));
    const ballast = json?.ballast;
    return ballast?.tracing ?? json?.["ballast.tracing"] ?? json;
  } catch (error) {
    chunk2QE56LMZ_cjs.warn(
      `BALLAST_TRACING_CONFIG=${path} could not be read as JSON (${error instanceof Error ? error.message : String(error)}); using the environment only.`,
      "BALLAST_TRACING_BAD_ENV"
    );
    return void 0;
  }
}
var options = fileOptions();
var commonJs = typeof __filename === "string";
try {
  if (!commonJs && !chunk2QE56LMZ_cjs.sdkDisabled(process.env)) {
    const config = chunk2QE56LMZ_cjs.resolveConfig(chunk2QE56LMZ_cjs.parseTracingOptions(options ?? {}), process.env);
    installLoaderHook(PATCHED.filter((name) => config.instrumentations[name]));
  }
} catch (error) {
  if (!chunk2QE56LMZ_cjs.isTracingError(error))
    chunk2QE56LMZ_cjs.warn(
      `The ESM loader hook could not be installed (${String(error)}); koa and pino imported with "import" are not instrumented.`,
      "BALLAST_TRACING_LOADER_HOOK"
    );
}
chunk2QE56LMZ_cjs.startTracing(options);
//# sourceMappingURL=register.cjs.map
//# sourceMappingURL=register.cjs.map