import { createRequire } from 'node:module';
import type * as Api from '@opentelemetry/api';

/** The `@opentelemetry/api` module type. */
export type OtelApi = typeof Api;

/**
 * A `require` resolving from this file in the ESM and the CJS build alike. The package loads its
 * OpenTelemetry modules through it: the SDK parts only when tracing starts (importing the package
 * for `withSpan` loads none of them), and the API as its CommonJS build, the copy the other Ballast
 * packages load too, so a process holds one instance of it instead of the ESM and the CJS one.
 */
export function requireHere(id: string): unknown {
  const base = typeof __filename === 'string' ? __filename : import.meta.url;
  return createRequire(base)(id);
}

let loaded: OtelApi | undefined;

/** `@opentelemetry/api` (a peer dependency), loaded on first use. */
export function api(): OtelApi {
  loaded ??= requireHere('@opentelemetry/api') as OtelApi;
  return loaded;
}
