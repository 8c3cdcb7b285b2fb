import type { ServerResponse } from 'node:http';
import { o } from '@ballast/kernel';
import { type CredentialInput, extractBearer } from './bearer.ts';
import { isAuthError } from './errors.ts';
import { optionError, parseAuthOptions } from './parse-options.ts';
import { hasScopes } from './scopes.ts';
import type { VerifiedToken, Verifier, VerifyOptions } from './verifier.ts';

/** A claim requirement: an exact value, one of several values, or a predicate on the value. */
export type ClaimMatcher =
  | string
  | number
  | boolean
  | readonly (string | number | boolean)[]
  | ((value: unknown) => boolean);

/** Claim checks: a matcher per claim name, or one predicate over all claims. */
export type ClaimRequirement =
  | Readonly<Record<string, ClaimMatcher>>
  | ((claims: Readonly<Record<string, unknown>>) => boolean);

/** What a route needs beyond a valid token. */
export interface AccessRequirement {
  /** Scopes the token must grant. */
  readonly scopes?: readonly string[] | undefined;
  /** `all` (default): every scope; `any`: at least one. */
  readonly scopeMode?: 'all' | 'any' | undefined;
  /** Claim checks; a failure answers 403 `insufficient_scope`. */
  readonly claims?: ClaimRequirement | undefined;
  /** The `realm` of `WWW-Authenticate` challenges. Default `api`. */
  readonly realm?: string | undefined;
}

/** Options of the `requireAuth` middleware of every adapter. */
export interface RequireAuthOptions extends AccessRequirement {
  /**
   * Accept `?access_token=` (RFC 6750 §2.3). Default `false`: query strings end up in logs, caches
   * and `Referer` headers, so such requests are answered 400.
   */
  readonly allowQueryToken?: boolean | undefined;
}

/** An RFC 6750 error answer: status, headers (with `WWW-Authenticate`) and a JSON body. */
export interface AuthFailure {
  /** 400 `invalid_request`, 401 (no or invalid token), 403 `insufficient_scope`, 503 keys unavailable. */
  readonly status: 400 | 401 | 403 | 503;
  /** Lower-case header names: `www-authenticate` (not on 503), `content-type`, `cache-control`, `retry-after` (503). */
  readonly headers: Readonly<Record<string, string>>;
  /** The JSON body: the RFC 6750 `error` (none on a plain 401 challenge) and a fixed description. */
  readonly body: { readonly error?: string; readonly error_description: string };
}

/** The outcome of authenticating one request. */
export type AuthOutcome =
  | { readonly ok: true; readonly auth: VerifiedToken }
  | { readonly ok: false; readonly failure: AuthFailure };

const requirementSchema = o.object({
  scopes: o
    .array(
      o.string({
        pattern: {
          regex: /^[\x21\x23-\x5b\x5d-\x7e]+$/,
          expected: 'a scope token (printable ASCII without spaces, quotes or backslashes)',
        },
      }),
    )
    .optional(),
  scopeMode: o.oneOf(['all', 'any']).default('all'),
  claims: o
    .union(o.record(o.unknown()), o.fn<(claims: Readonly<Record<string, unknown>>) => boolean>())
    .optional(),
  realm: o
    .string({
      pattern: {
        regex: /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/,
        expected: 'printable ASCII without quotes or backslashes',
      },
    })
    .default('api'),
  allowQueryToken: o.boolean().default(false),
});

const UNAVAILABLE: AuthFailure = {
  status: 503,
  headers: { 'content-type': 'application/json', 'cache-control': 'no-store', 'retry-after': '5' },
  body: {
    error: 'temporarily_unavailable',
    error_description: 'The token cannot be checked now; retry later',
  },
};

const DESCRIPTIONS: Record<string, string> = {
  expired: 'The access token expired',
  default: 'The access token is invalid',
};

/**
 * The framework-independent core every adapter maps to: authenticates a request's bearer token
 * and checks a route's requirement, producing RFC 6750 answers that never leak internal detail.
 */
export interface Guard {
  /** Extracts, verifies and authorizes; never throws (every outcome is an answer). */
  authenticate(input: CredentialInput, options?: VerifyOptions): Promise<AuthOutcome>;
  /** Checks an already-authenticated request (`requireScopes`, `requireClaims`). */
  authorize(auth: VerifiedToken | undefined): AuthFailure | undefined;
}

/**
 * Builds a {@link Guard}, the core every adapter maps to; use it to support another framework.
 * Validates `options` (an `INVALID_OPTIONS` error names the option).
 */
export function createGuard(verifier: Verifier, options: RequireAuthOptions = {}): Guard {
  return verifyingGuard(verifier, options, 'createGuard()');
}

/** A guard that verifies tokens, for `factory` (`requireAuth()`, …), which names it in messages. @internal */
export function verifyingGuard(
  verifier: Verifier,
  options: RequireAuthOptions | undefined,
  factory: string,
): Guard {
  if (typeof verifier?.verify !== 'function') {
    throw optionError(
      factory,
      'verifier',
      verifier,
      'must be the verifier returned by createVerifier() (the first argument)',
    );
  }
  return buildGuard(verifier, options, factory);
}

/** The guard behind every adapter's `requireScopes`: it only authorizes. @internal */
export function scopeGuard(
  scopes: readonly string[],
  options: RequireScopesOptions = {},
  factory = 'requireScopes()',
): Guard {
  return buildGuard(undefined, { ...options, scopes }, factory);
}

/** The guard behind every adapter's `requireClaims`: it only authorizes. @internal */
export function claimGuard(
  claims: ClaimRequirement,
  options: RequireClaimsOptions = {},
  factory = 'requireClaims()',
): Guard {
  return buildGuard(undefined, { ...options, claims }, factory);
}

/**
 * The one guard implementation. Without a verifier (`requireScopes`, `requireClaims`) it only
 * authorizes a request that `requireAuth` already authenticated.
 */
function buildGuard(
  verifier: Verifier | undefined,
  options: RequireAuthOptions | undefined,
  factory: string,
): Guard {
  const o = parseAuthOptions(requirementSchema, options, factory);
  const challenge = `Bearer realm="${o.realm}"`;
  const claims = options?.claims;
  const fail = (
    status: AuthFailure['status'],
    error: string | undefined,
    text: string,
    extra = '',
  ) => ({
    status,
    headers: {
      'www-authenticate': error
        ? `${challenge}, error="${error}", error_description="${text}"${extra}`
        : challenge,
      'content-type': 'application/json',
      'cache-control': 'no-store',
    },
    body: error ? { error, error_description: text } : { error_description: text },
  });
  const missing = fail(401, undefined, 'This resource needs a bearer access token');
  const scopeFailure = o.scopes
    ? fail(
        403,
        'insufficient_scope',
        'The access token lacks a required scope',
        `, scope="${o.scopes.join(' ')}"`,
      )
    : undefined;
  const claimFailure = fail(
    403,
    'insufficient_scope',
    'The access token does not grant access to this resource',
  );

  function authorize(auth: VerifiedToken | undefined): AuthFailure | undefined {
    if (!auth) return missing;
    if (scopeFailure && !hasScopes(auth.scopes, o.scopes ?? [], o.scopeMode)) return scopeFailure;
    if (claims && !claimsMatch(auth.claims, claims)) return claimFailure;
    return undefined;
  }

  return {
    authorize,
    async authenticate(input, verifyOptions) {
      if (verifyOptions instanceof AbortSignal) {
        throw optionError(
          'guard.authenticate()',
          '(options)',
          verifyOptions,
          'must be an options object: pass { signal }, not the AbortSignal itself',
        );
      }
      const credentials = extractBearer(input, o.allowQueryToken);
      if (credentials.kind === 'none') return { ok: false, failure: missing };
      if (credentials.kind === 'invalid') {
        return { ok: false, failure: fail(400, 'invalid_request', credentials.description) };
      }
      if (!verifier) return { ok: false, failure: UNAVAILABLE }; // an authorize-only guard
      let auth: VerifiedToken;
      try {
        auth = await verifier.verify(credentials.token, verifyOptions);
      } catch (error) {
        if (isAuthError(error, 'INVALID_TOKEN')) {
          const text = DESCRIPTIONS[error.reason] ?? DESCRIPTIONS.default!;
          return { ok: false, failure: fail(401, 'invalid_token', text) };
        }
        // JWKS or discovery down, aborted, or a bug: the token may be fine, so no 401.
        return { ok: false, failure: UNAVAILABLE };
      }
      const failure = authorize(auth);
      return failure ? { ok: false, failure } : { ok: true, auth };
    },
  };
}

/** Options of `requireScopes` in every adapter. */
export type RequireScopesOptions = Omit<AccessRequirement, 'scopes' | 'claims'>;

/** Options of `requireClaims` in every adapter. */
export type RequireClaimsOptions = Pick<AccessRequirement, 'realm'>;

function claimsMatch(actual: Readonly<Record<string, unknown>>, wanted: ClaimRequirement): boolean {
  if (typeof wanted === 'function') return wanted(actual) === true;
  for (const [name, matcher] of Object.entries(wanted)) {
    const value = actual[name];
    if (typeof matcher === 'function') {
      if (matcher(value) !== true) return false;
    } else if (Array.isArray(matcher)) {
      if (!matcher.includes(value as string)) return false;
    } else if (value !== matcher) {
      return false;
    }
  }
  return true;
}

/** Writes a failure to a `node:http` response (also Express's). @internal */
export function writeFailure(res: ServerResponse, failure: AuthFailure): void {
  res.writeHead(failure.status, failure.headers);
  res.end(JSON.stringify(failure.body));
}
