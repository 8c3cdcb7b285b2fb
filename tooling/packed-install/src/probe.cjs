'use strict';
// Runs inside the temporary project, so it sees only what the tarballs installed.
// Usage: node probe.cjs <esm|cjs> <specifier>...
// Loads each specifier with import() or require() and prints one JSON line: per specifier, the
// type of each export, or the error. It does not call process.exit: a module that starts a timer,
// socket or process at import time keeps this process alive, which the test reports.
const [mode, ...specifiers] = process.argv.slice(2);

async function load(specifier) {
  try {
    const ns = mode === 'esm' ? await import(specifier) : require(specifier);
    const exports = {};
    for (const name of Object.keys(ns).sort()) {
      if (name === '__esModule' || name === 'default') continue;
      exports[name] = typeof ns[name];
    }
    return { specifier, exports };
  } catch (error) {
    const e = /** @type {{ code?: unknown, message?: unknown }} */ (error);
    return { specifier, error: `${e.code ?? 'Error'}: ${String(e.message).split('\n')[0]}` };
  }
}

(async () => {
  const results = [];
  for (const specifier of specifiers) results.push(await load(specifier));
  process.stdout.write(`${JSON.stringify(results)}\n`);
})();
