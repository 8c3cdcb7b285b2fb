import { type Counter, type Histogram, metrics, type Tracer, trace } from '@opentelemetry/api';

const NAME = '@ballast/auth';

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

/** The tracer and instruments, taken from the global providers when a token source is created. @internal */
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

/** Attribute names of the client half. @internal */
export const CLIENT_ATTR = {
  outcome: 'ballast.auth.outcome',
  clientId: 'ballast.auth.client_id',
  attempts: 'ballast.auth.attempts',
  oauthError: 'ballast.auth.oauth_error',
  cache: 'ballast.auth.cache',
} as const;
