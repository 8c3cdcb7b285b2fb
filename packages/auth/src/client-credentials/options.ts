import { type Clock, type Infer, o, systemClock } from '@ballast/kernel';
import type { CryptoKey, JWK, KeyObject } from 'jose';
import { isTrustedUrl } from '../discovery.ts';
import type { FetchLike } from '../http-exchange.ts';
import { optionError, parseAuthOptions } from '../parse-options.ts';

/** Signing key and algorithm for `private_key_jwt` client authentication (RFC 7523). */
export interface PrivateKeyJwtOptions {
  /** The client's private key: a CryptoKey, a KeyObject, or a private JWK. */
  key: CryptoKey | KeyObject | JWK;
  /** JWS algorithm of the assertion, e.g. `'ES256'`, `'RS256'`, `'EdDSA'`. */
  alg: string;
  /** `kid` header of the assertion, so the server can pick the key. */
  kid?: string | undefined;
  /** Lifetime of each assertion. Default 60 000. */
  expiresInMs?: number | undefined;
}

/** When and how often a failed token request is sent again (5xx, network errors, timeouts; never 4xx). */
export interface TokenRetryOptions {
  /** Attempts in all, the first included (1–10). Default 3. */
  attempts?: number | undefined;
  /** Delay before the second attempt; doubles each time, with jitter (50–100 %). Default 200. */
  baseDelayMs?: number | undefined;
  /** Upper bound of one delay. Default 5 000. */
  maxDelayMs?: number | undefined;
}

/** Options of `clientCredentials()`. Give `tokenEndpoint` or `issuer`, and `clientSecret` or `privateKeyJwt`. */
export interface ClientCredentialsOptions {
  /** Token endpoint URL (https; http only to loopback unless `allowInsecureHttp`). */
  tokenEndpoint?: string | undefined;
  /** Issuer identifier; the token endpoint is read from its OIDC / RFC 8414 metadata on first use. */
  issuer?: string | undefined;
  /** The `client_id`. */
  clientId: string;
  /** Client secret (sent per `authMethod`). */
  clientSecret?: string | undefined;
  /** How the secret is sent: `'client_secret_basic'` (default) or `'client_secret_post'`. */
  authMethod?: 'client_secret_basic' | 'client_secret_post' | undefined;
  /** Authenticate with a signed JWT assertion instead of a secret. */
  privateKeyJwt?: PrivateKeyJwtOptions | undefined;
  /** Scopes to ask for (sent as the space-separated `scope` parameter), as `requireAuth({ scopes })` names them. */
  scopes?: readonly string[] | undefined;
  /** `audience` parameter (Auth0, Okta and others). */
  audience?: string | undefined;
  /** RFC 8707 `resource` parameter. */
  resource?: string | undefined;
  /** Further form parameters for the token request. Default `{}`. */
  extraParams?: Readonly<Record<string, string>> | undefined;
  /** Refresh this long before expiry (capped at half the token lifetime). Default 60 000. */
  refreshAheadMs?: number | undefined;
  /** Random extra fraction (0–1) of `refreshAheadMs` to refresh earlier, so instances spread out. Default 0.1. */
  jitter?: number | undefined;
  /** Retries on 5xx answers, network errors and timeouts (never on 4xx); see {@link TokenRetryOptions}. */
  retry?: TokenRetryOptions | undefined;
  /** Timeout of each attempt (request and body). Default 10 000. */
  timeoutMs?: number | undefined;
  /** Largest accepted response body. Default 65 536. */
  maxBodyBytes?: number | undefined;
  /** Allow `http:` endpoints other than loopback (the secret would travel in clear). Default `false`. */
  allowInsecureHttp?: boolean | undefined;
  /** Time and timers (e.g. a `ManualClock` in tests). Default: the system clock. */
  clock?: Clock | undefined;
  /** Random numbers in [0, 1) for jitter. Default `Math.random`. */
  random?: (() => number) | undefined;
  /** The fetch to use (e.g. undici's with a dispatcher). Default: the global `fetch`. */
  fetch?: FetchLike | undefined;
}

const ms = (min = 0, max = 2_147_483_647) => o.number({ integer: true, min, max });
const isUrl = (value: unknown, protocols?: readonly string[]): boolean => {
  if (typeof value !== 'string') return false;
  try {
    const url = new URL(value);
    return protocols === undefined || protocols.includes(url.protocol);
  } catch {
    return false;
  }
};
const httpUrl = () =>
  o.custom<string>((value) => isUrl(value, ['http:', 'https:']), 'an http(s) URL');
const nonEmpty = () => o.string({ minLength: 1 });

const retrySchema = o.object({
  attempts: o.number({ integer: true, min: 1, max: 10 }).default(3),
  baseDelayMs: ms().default(200),
  maxDelayMs: ms().default(5_000),
});

const schema = o.object({
  tokenEndpoint: httpUrl().optional(),
  issuer: httpUrl().optional(),
  clientId: nonEmpty(),
  clientSecret: nonEmpty().optional(),
  authMethod: o.oneOf(['client_secret_basic', 'client_secret_post']).default('client_secret_basic'),
  privateKeyJwt: o
    .object({
      key: o.custom<CryptoKey | KeyObject | JWK>(
        (value) => typeof value === 'object' && value !== null,
        'a CryptoKey, KeyObject or private JWK',
      ),
      alg: o.string({
        pattern: {
          regex: /^(RS|PS|ES)(256|384|512)$|^EdDSA$|^Ed25519$/,
          expected: 'an asymmetric JWS algorithm (RS256, PS256, ES256, EdDSA, …)',
        },
      }),
      kid: nonEmpty().optional(),
      expiresInMs: ms(1_000).default(60_000),
    })
    .optional(),
  scopes: o
    .array(o.string({ pattern: { regex: /^\S+$/, expected: 'a scope without spaces' } }))
    .optional(),
  audience: nonEmpty().optional(),
  resource: o.custom<string>((value) => isUrl(value), 'an absolute URL').optional(),
  extraParams: o.record(o.string()).default({}),
  refreshAheadMs: ms().default(60_000),
  jitter: o.number({ min: 0, max: 1 }).default(0.1),
  retry: retrySchema.default(retrySchema.parse({})),
  timeoutMs: ms(1).default(10_000),
  maxBodyBytes: ms(1_024, 16 * 1024 * 1024).default(64 * 1024),
  allowInsecureHttp: o.boolean().default(false),
  clock: o.clock<Clock>().default(systemClock),
  random: o.fn<() => number>().default(Math.random),
  fetch: o.fn<FetchLike>().optional(),
});

/** The options once validated, with defaults. @internal */
export type ResolvedClientCredentialsOptions = Infer<typeof schema>;

const FACTORY = 'clientCredentials()';

/** Validates the options (each one, then the rules between them). @internal */
export function resolveClientCredentialsOptions(
  input: ClientCredentialsOptions,
): ResolvedClientCredentialsOptions {
  const opts = parseAuthOptions(schema, input, FACTORY);
  if ((opts.tokenEndpoint === undefined) === (opts.issuer === undefined)) {
    throw optionError(
      FACTORY,
      'tokenEndpoint',
      opts.tokenEndpoint,
      'or "issuer" must be given, not both and not neither',
    );
  }
  if ((opts.clientSecret === undefined) === (opts.privateKeyJwt === undefined)) {
    throw optionError(
      FACTORY,
      'clientSecret',
      opts.clientSecret === undefined ? undefined : '(hidden)',
      'or "privateKeyJwt" must be given, not both and not neither',
    );
  }
  for (const name of ['tokenEndpoint', 'issuer'] as const) {
    const url = opts[name];
    if (url !== undefined && !isTrustedUrl(url, opts.allowInsecureHttp)) {
      throw optionError(
        FACTORY,
        name,
        url,
        'must use https (http is accepted for loopback only, unless allowInsecureHttp is true)',
      );
    }
  }
  return opts;
}
