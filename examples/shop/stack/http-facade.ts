/**
 * Preloaded into every service process (`--import dist/http-facade.js`, built by stack/build.ts):
 * an ESM import of `node:http` gets a module that takes node:http through `require()` and
 * re-exports its exports — the same functions and classes — instead of Node's own namespace.
 *
 * Why: Node builds the ESM namespace of node:http by reading every export, and three of them
 * (`WebSocket`, `CloseEvent`, `MessageEvent`) are lazy getters that load Node's bundled copy of
 * undici (nodejs/node#59686). Every service imports node:http as ESM somewhere — its own code,
 * `@hono/node-server`, and OpenTelemetry's OTLP exporter (`await import('http')` on the first
 * export) — so every process paid ~10 MB of memory for a second undici (the services use the
 * undici package) and WebSocket classes nothing uses. Those three stay reachable as properties of
 * the default export (`http.WebSocket`); only a named import of them would fail to link. A
 * `require('node:http')` is left alone, and nothing else is redirected.
 */
import { createRequire, registerHooks } from 'node:module';

const require = createRequire(import.meta.url);
const FACADE = 'shop-http-facade:node-http';
/** The lazy exports that load Node's bundled undici when read. */
const UNDICI_GETTERS = new Set(['WebSocket', 'CloseEvent', 'MessageEvent']);

registerHooks({
  resolve(specifier, context, nextResolve) {
    if (
      (specifier === 'node:http' || specifier === 'http') &&
      context.conditions.includes('import') &&
      context.parentURL !== FACADE
    )
      return { url: FACADE, format: 'module', shortCircuit: true };
    return nextResolve(specifier, context);
  },
  load(url, context, nextLoad) {
    if (url !== FACADE) return nextLoad(url, context);
    const http = require('node:http') as Record<string, unknown>;
    const names = Object.keys(http).filter((name) => !UNDICI_GETTERS.has(name));
    return {
      format: 'module',
      shortCircuit: true,
      source: [
        `import { createRequire } from 'node:module';`,
        `const http = createRequire(${JSON.stringify(import.meta.url)})('node:http');`,
        'export default http;',
        `export const { ${names.join(', ')} } = http;`,
      ].join('\n'),
    };
  },
});
