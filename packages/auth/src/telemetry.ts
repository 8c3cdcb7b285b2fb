import { type OpenTelemetryApi, otel } from '@ballast/kernel';
import type { Counter, Histogram, Span, Tracer } from '@opentelemetry/api';

// `@opentelemetry/api` is an optional peer: it is only ever reached through the kernel's `otel()`,
// which loads it on first need and answers `undefined` when it is not installed or when no SDK
// registered anything. The type imports above are erased from the build.

/** Tracer and meter name of the whole package. */
const NAME = '@ballast/auth';

/** Attribute names set on spans and metrics (verifier and client halves). @internal */
export const ATTR = {
  outcome: 'ballast.auth.outcome',
  reason: 'ballast.auth.reason',
  cache: 'ballast.auth.cache',
  alg: 'ballast.auth.alg',
  kid: 'ballast.auth.kid',
  clientId: 'ballast.auth.client_id',
  attempts: 'ballast.auth.attempts',
  oauthError: 'ballast.auth.oauth_error',
} as const;

/** Instruments of the verifier half. @internal */
export interface VerifierInstruments {
  readonly api: OpenTelemetryApi;
  readonly tracer: Tracer;
  /** `ballast.auth.verifications`: one per `verify()` call, by outcome, reason and cache use. */
  readonly verifications: Counter;
  /** `ballast.auth.jwks.fetches`: one per JWKS or discovery fetch, by outcome. */
  readonly jwksFetches: Counter;
}

/** Instruments of the client half (token sources). @internal */
export interface ClientInstruments {
  readonly api: OpenTelemetryApi;
  readonly tracer: Tracer;
  /** `ballast.auth.token.fetches`: one per token request (all attempts), by outcome. */
  readonly tokenFetches: Counter;
  /** `ballast.auth.token.fetch.duration`: milliseconds per token request, by outcome. */
  readonly tokenFetchDuration: Histogram;
  /** `ballast.auth.token.cache`: one per `getToken`, by `hit` / `refresh_ahead` / `miss`. */
  readonly tokenCache: Counter;
}

/** Gives the instruments once OpenTelemetry is there (created on first need), else `undefined`. @internal */
export type Instruments<T> = () => T | undefined;

function lazily<T>(create: (api: OpenTelemetryApi) => T): Instruments<T> {
  let made: T | undefined;
  return () => {
    if (made !== undefined) return made;
    const api = otel();
    if (api !== undefined) made = create(api);
    return made;
  };
}

/** The verifier's tracer and counters, created from the global providers on first use. @internal */
export function verifierInstruments(): Instruments<VerifierInstruments> {
  return lazily((api) => {
    const meter = api.metrics.getMeter(NAME);
    return {
      api,
      tracer: api.trace.getTracer(NAME),
      verifications: meter.createCounter('ballast.auth.verifications', {
        description: 'Access-token verifications, by outcome',
      }),
      jwksFetches: meter.createCounter('ballast.auth.jwks.fetches', {
        description: 'JWKS and discovery fetches, by outcome',
      }),
    };
  });
}

/** A token source's tracer and instruments, created from the global providers on first use. @internal */
export function clientInstruments(): Instruments<ClientInstruments> {
  return lazily((api) => {
    const meter = api.metrics.getMeter(NAME);
    return {
      api,
      tracer: api.trace.getTracer(NAME),
      tokenFetches: meter.createCounter('ballast.auth.token.fetches', {
        description: 'Client-credentials token requests, by outcome',
      }),
      tokenFetchDuration: meter.createHistogram('ballast.auth.token.fetch.duration', {
        description: 'Duration of client-credentials token requests, all attempts included',
        unit: 'ms',
      }),
      tokenCache: meter.createCounter('ballast.auth.token.cache', {
        description: 'getToken calls, by cache result',
      }),
    };
  });
}

/** Counts a request the bearer interceptor sent again after a 401 invalid_token. @internal */
export function recordBearerRetry(origin: string): void {
  otel()
    ?.metrics.getMeter(NAME)
    .createCounter('ballast.auth.bearer.retries', {
      description: 'Requests resent once with a fresh token after 401 invalid_token',
    })
    .add(1, { 'server.address': origin });
}

/** Marks `span` failed with `message` and ends it. @internal */
export function endWithError(api: OpenTelemetryApi, span: Span, message: string): void {
  span.setStatus({ code: api.SpanStatusCode.ERROR, message });
  span.end();
}

export type { Span };
