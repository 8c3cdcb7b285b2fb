import { createRequire } from 'node:module';

/**
 * The copy of `@opentelemetry/api` that `@ballast/kernel`'s `otel()` loads (the one resolved from
 * the kernel). Tests register their in-memory SDK through it: an API registered by an older copy
 * (this repo also holds 1.9.x, which the 2.x trace SDK needs) is not visible to a newer one, so
 * registering through another copy would leave the package's telemetry a no-op.
 */
const api = createRequire(createRequire(import.meta.url).resolve('@ballast/kernel'))(
  '@opentelemetry/api',
) as typeof import('@opentelemetry/api');

export const { context, metrics, trace, ROOT_CONTEXT } = api;
export type { Context, ContextManager } from '@opentelemetry/api';
