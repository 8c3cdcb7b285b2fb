import { type Clock, type Infer, o } from '@ballast/kernel';
import { isTrustedUrl } from './discovery.ts';
import type { FetchLike } from './http-exchange.ts';
import { optionError, parseAuthOptions } from './parse-options.ts';

/** Asymmetric JWS algorithms the verifier accepts in `algorithms` (RFC 7518, RFC 8037). */
export const ASYMMETRIC_ALGORITHMS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
  'Ed25519',
] as const;

/** HMAC algorithms; accepted only together with a `secret` (never with a JWKS). */
export const HMAC_ALGORITHMS = ['HS256', 'HS384', 'HS512'] as const;

/** An algorithm name accepted in `algorithms`. */
export type VerifierAlgorithm =
  | (typeof ASYMMETRIC_ALGORITHMS)[number]
  | (typeof HMAC_ALGORITHMS)[number];

/** How the verifier fetches and keeps the issuer's keys (`createVerifier({ jwks })`). */
export interface JwksOptions {
  /** Least time between two JWKS fetches, whatever the traffic (unknown `kid`s, failures). Default 30 000. */
  cooldownMs?: number | undefined;
  /** A JWKS or metadata fetch that takes longer is aborted. Default 5 000. */
  timeoutMs?: number | undefined;
  /** How long the last good keys stay in use after the endpoint starts failing; then `JWKS_UNAVAILABLE`. Default 3 600 000. */
  maxStaleMs?: number | undefined;
  /** Larger JWKS or metadata bodies are refused (read incrementally). Default 262 144. */
  maxBodyBytes?: number | undefined;
  /** Keys older than this are refreshed in the background while still in use. Default 600 000. */
  refreshIntervalMs?: number | undefined;
}

/** The verified-token cache (`createVerifier({ cache })`). */
export interface VerifierCacheOptions {
  /** Most tokens kept (`0` turns the cache off); evicted with second chance (CLOCK). Default 10 000. */
  maxEntries?: number | undefined;
  /**
   * Cache a token after its first verification. Default `false`: a token enters the cache when it
   * is verified a second time, so one-time tokens never evict the hot ones.
   */
  admitFirstUse?: boolean | undefined;
}

/** Options of `createVerifier()`; see the README's options table for every default. */
export interface VerifierOptions {
  /** The exact `iss` of accepted tokens (and, with `discovery`, the issuer whose metadata is read). */
  issuer: string;
  /** Accepted `aud` values; one of the token's audiences must match. */
  audience: string | readonly string[];
  /**
   * The algorithm allow-list (required): a token whose `alg` is not listed is refused before any
   * key is looked up. `HS256`/`HS384`/`HS512` need a `secret`.
   */
  algorithms: readonly VerifierAlgorithm[];
  /** The JWKS URL (https; http only to loopback unless `allowInsecureHttp`). Or set `discovery`. */
  jwksUri?: string | undefined;
  /**
   * Read `jwks_uri` from the issuer's OIDC discovery document (else its RFC 8414 metadata); the
   * document's `issuer` must equal `issuer`. Default `false`.
   */
  discovery?: boolean | undefined;
  /** Shared secret (at least 32 characters, or bytes) for `HS*` tokens only; never used with a JWKS. */
  secret?: string | Uint8Array | undefined;
  /** Leeway for `exp`, `nbf` and `iat`. Default 5 000. */
  clockToleranceMs?: number | undefined;
  /** Refuse tokens whose `iat` is older than this (then `iat` is required). */
  maxTokenAgeMs?: number | undefined;
  /** Claims that must be present (besides `exp`, `iss` and `aud`). Default `[]`. */
  requiredClaims?: readonly string[] | undefined;
  /** Refuse tokens without `exp`. Default `true`. */
  requireExp?: boolean | undefined;
  /** Required `typ` header, e.g. `'at+jwt'` (RFC 9068). */
  typ?: string | undefined;
  /** Longer tokens are refused before parsing. Default 8 192. */
  maxTokenBytes?: number | undefined;
  /** Allow `http:` JWKS and issuer URLs to hosts other than loopback. Default `false`. */
  allowInsecureHttp?: boolean | undefined;
  /** How keys are fetched and kept; see {@link JwksOptions}. */
  jwks?: JwksOptions | undefined;
  /** The verified-token cache; see {@link VerifierCacheOptions}. */
  cache?: VerifierCacheOptions | undefined;
  /** Time and timers, e.g. a `ManualClock` in tests. Default: the system clock. */
  clock?: Clock | undefined;
  /**
   * The fetch used for the JWKS and discovery documents, e.g. undici's `fetch` when the service
   * already loads undici (Node's global `fetch` loads a second copy on first use). Default: the
   * global `fetch`.
   */
  fetch?: FetchLike | undefined;
}

const ms = (min = 0, max = 2_147_483_647) => o.number({ integer: true, min, max });
const nonEmpty = () => o.string({ minLength: 1 });

const jwksSchema = o.object({
  cooldownMs: ms().default(30_000),
  timeoutMs: ms(1).default(5_000),
  maxStaleMs: ms().default(3_600_000),
  maxBodyBytes: ms(256, 16 * 1024 * 1024).default(256 * 1024),
  refreshIntervalMs: ms(1_000).default(600_000),
});

const cacheSchema = o.object({
  maxEntries: ms(0, 10_000_000).default(10_000),
  admitFirstUse: o.boolean().default(false),
});

// Checked by hand after the schema, so that a rejected secret never appears in a message.
const secretSchema = o.unknown();

const schema = o.object({
  issuer: nonEmpty(),
  audience: o.union(nonEmpty(), o.array(nonEmpty(), { minLength: 1 })),
  jwksUri: o.string().optional(),
  discovery: o.boolean().default(false),
  algorithms: o.array(o.oneOf([...ASYMMETRIC_ALGORITHMS, ...HMAC_ALGORITHMS]), { minLength: 1 }),
  secret: secretSchema.optional(),
  clockToleranceMs: ms(0, 300_000).default(5_000),
  maxTokenAgeMs: ms(1).optional(),
  requiredClaims: o.array(nonEmpty()).default([]),
  requireExp: o.boolean().default(true),
  typ: nonEmpty().optional(),
  maxTokenBytes: ms(128, 1024 * 1024).default(8192),
  allowInsecureHttp: o.boolean().default(false),
  jwks: jwksSchema.default(jwksSchema.parse({})),
  cache: cacheSchema.default(cacheSchema.parse({})),
  clock: o.clock<Clock>().optional(),
  fetch: o.fn<FetchLike>().optional(),
});

/** The options once defaults are applied. @internal */
export type ResolvedVerifierOptions = Omit<Infer<typeof schema>, 'secret'> & {
  secret?: string | Uint8Array;
};

const HMAC: ReadonlySet<string> = new Set(HMAC_ALGORITHMS);
const FACTORY = 'createVerifier()';

/** Validates `createVerifier`'s options (each option, then the rules between them). @internal */
export function resolveVerifierOptions(input: VerifierOptions): ResolvedVerifierOptions {
  const opts = parseAuthOptions(schema, input, FACTORY);
  const { secret } = opts;
  if (
    secret !== undefined &&
    !(typeof secret === 'string' ? secret.length >= 32 : secret instanceof Uint8Array)
  ) {
    throw optionError(
      FACTORY,
      'secret',
      '(hidden)',
      'must be a string of at least 32 characters or a Uint8Array',
    );
  }
  const hmac = opts.algorithms.filter((alg) => HMAC.has(alg));
  const asymmetric = opts.algorithms.length - hmac.length;
  if (hmac.length > 0 && opts.secret === undefined) {
    throw optionError(
      FACTORY,
      'algorithms',
      opts.algorithms,
      `lists ${hmac.join(', ')}, which need a "secret"; for tokens from an issuer use an asymmetric algorithm such as RS256 (RFC 8725 §3.1)`,
    );
  }
  if (opts.secret !== undefined && hmac.length === 0) {
    throw optionError(
      FACTORY,
      'secret',
      '(hidden)',
      'is only used with HS256/384/512 in "algorithms"',
    );
  }
  if (asymmetric > 0 && opts.jwksUri === undefined && !opts.discovery) {
    throw optionError(
      FACTORY,
      'jwksUri',
      undefined,
      'is required (or set discovery: true) for asymmetric algorithms',
    );
  }
  if (opts.jwksUri !== undefined && opts.discovery) {
    throw optionError(FACTORY, 'discovery', true, 'cannot be combined with "jwksUri"; pick one');
  }
  if (opts.jwksUri !== undefined && !isTrustedUrl(opts.jwksUri, opts.allowInsecureHttp)) {
    throw optionError(
      FACTORY,
      'jwksUri',
      opts.jwksUri,
      'must be an https URL (http only to loopback, or with allowInsecureHttp: true)',
    );
  }
  if (opts.discovery && !isTrustedUrl(opts.issuer, opts.allowInsecureHttp)) {
    throw optionError(
      FACTORY,
      'issuer',
      opts.issuer,
      'must be an https URL to use discovery (http only to loopback, or with allowInsecureHttp: true)',
    );
  }
  return opts as ResolvedVerifierOptions;
}
