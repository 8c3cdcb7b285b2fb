import { createRequire } from 'node:module';

/** The OpenTelemetry API module, as `import * as api from '@opentelemetry/api'` gives it. */
export type OpenTelemetryApi = typeof import('@opentelemetry/api');

// Where @opentelemetry/api registers the SDK's providers: present only once something registered.
const OTEL_GLOBAL = Symbol.for('opentelemetry.js.api.1');

let api: OpenTelemetryApi | undefined;
let missing = false;

/**
 * The `@opentelemetry/api` module, loaded on first need and never at import time, or `undefined`
 * when it is not installed or when nothing has registered an SDK yet (then every span and metric
 * would be a no-op anyway, so the ~17 ms load is skipped). Call it where telemetry is about to be
 * recorded, not once at construction: an SDK registered later is picked up by the next call.
 *
 * It is an optional peer of every Ballast package: install it (and an SDK) to get telemetry.
 */
export function otel(): OpenTelemetryApi | undefined {
  if (api !== undefined) return api;
  if (missing || (globalThis as Record<symbol, unknown>)[OTEL_GLOBAL] === undefined)
    return undefined;
  try {
    api = requireHere('@opentelemetry/api') as OpenTelemetryApi;
  } catch {
    missing = true; // Not installed: telemetry stays off, as documented.
  }
  return api;
}

/**
 * A `require` that resolves from this file, in the ESM and in the CJS build alike (the CJS build
 * has `__filename`; the ESM build has `import.meta.url`).
 */
function requireHere(id: string): unknown {
  const base = typeof __filename === 'string' ? __filename : import.meta.url;
  return createRequire(base)(id);
}
