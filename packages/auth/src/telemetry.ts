import { type Counter, metrics, type Tracer, trace } from '@opentelemetry/api';

const NAME = '@ballast/auth';

/** Instruments of the verifier half, created on first use (nothing happens at import). @internal */
export interface VerifierInstruments {
  readonly tracer: Tracer;
  /** `ballast.auth.verifications`: one per `verify()` call, by outcome, reason and cache use. */
  readonly verifications: Counter;
  /** `ballast.auth.jwks.fetches`: one per JWKS or discovery fetch, by outcome. */
  readonly jwksFetches: Counter;
}

/**
 * The package's tracer and counters (names follow `ballast.auth.*`), taken from the global
 * providers when a verifier is created, so an SDK registered before that is used. @internal
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

/** Attribute names the verifier sets on spans and metrics. @internal */
export const ATTR = {
  outcome: 'ballast.auth.outcome',
  reason: 'ballast.auth.reason',
  cache: 'ballast.auth.cache',
  alg: 'ballast.auth.alg',
  kid: 'ballast.auth.kid',
  jwksState: 'ballast.auth.jwks.state',
} as const;
