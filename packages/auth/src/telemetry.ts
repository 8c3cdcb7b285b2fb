import { type Counter, type Histogram, metrics, type Tracer, trace } from '@opentelemetry/api';

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

/** Instruments of the verifier half, created on first use (nothing happens at import). @internal */
export interface VerifierInstruments {
  readonly tracer: Tracer;
  /** `ballast.auth.verifications`: one per `verify()` call, by outcome, reason and cache use. */
  readonly verifications: Counter;
  /** `ballast.auth.jwks.fetches`: one per JWKS or discovery fetch, by outcome. */
  readonly jwksFetches: Counter;
}

/** Instruments of the client half (token sources, the undici interceptor). @internal */
export interface ClientInstruments {
  readonly tracer: Tracer;
  /** `ballast.auth.token.fetches`: one per token request (all attempts), by outcome. */
  readonly tokenFetches: Counter;
  /** `ballast.auth.token.fetch.duration`: milliseconds per token request, by outcome. */
  readonly tokenFetchDuration: Histogram;
  /** `ballast.auth.token.cache`: one per `getToken`, by `hit` / `refresh_ahead` / `miss`. */
  readonly tokenCache: Counter;
}

/**
 * The verifier's tracer and counters, taken from the global providers when a verifier is
 * created, so an SDK registered before that is used. @internal
 */
export function verifierInstruments(): VerifierInstruments {
  const meter = metrics.getMeter(NAME);
  return {
    tracer: trace.getTracer(NAME),
    verifications: meter.createCounter('ballast.auth.verifications', {
      description: 'Access-token verifications, by outcome',
    }),
    jwksFetches: meter.createCounter('ballast.auth.jwks.fetches', {
      description: 'JWKS and discovery fetches, by outcome',
    }),
  };
}

/** A token source's tracer and instruments, taken from the global providers when it is created. @internal */
export function clientInstruments(): ClientInstruments {
  const meter = metrics.getMeter(NAME);
  return {
    tracer: trace.getTracer(NAME),
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
}

/** Counts a request the bearer interceptor sent again after a 401 invalid_token. @internal */
export function recordBearerRetry(origin: string): void {
  metrics
    .getMeter(NAME)
    .createCounter('ballast.auth.bearer.retries', {
      description: 'Requests resent once with a fresh token after 401 invalid_token',
    })
    .add(1, { 'server.address': origin });
}
