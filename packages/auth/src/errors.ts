const BRAND = Symbol.for('@ballast/auth.error');

/** Stable codes of every error this package throws. */
export type AuthErrorCode =
  | 'INVALID_OPTIONS'
  | 'INVALID_TOKEN'
  | 'JWKS_UNAVAILABLE'
  | 'DISCOVERY_FAILED'
  | 'TOKEN_REQUEST_FAILED'
  | 'TOTP_INVALID'
  | 'ABORTED';

/**
 * Base class of every error thrown by `@ballast/auth`. Carries a stable `code`; use
 * {@link isAuthError} rather than `instanceof` so that a check still works when two copies of
 * the package are installed.
 */
export class AuthError extends Error {
  /** Stable machine-readable code, e.g. `INVALID_TOKEN`. */
  readonly code: AuthErrorCode;
  declare readonly [BRAND]: true;

  constructor(code: AuthErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
    Object.defineProperty(this, BRAND, { value: true });
  }
}

/** True when `error` was thrown by any copy of `@ballast/auth`; narrows by `code` when given. */
export function isAuthError<C extends AuthErrorCode>(
  error: unknown,
  code?: C,
): error is AuthError & { code: C } {
  return (
    typeof error === 'object' &&
    error !== null &&
    (error as Record<symbol, unknown>)[BRAND] === true &&
    (code === undefined || (error as AuthError).code === code)
  );
}

/**
 * Why a token was refused; stable strings, safe to log (they never contain the token).
 * `malformed`: not a compact JWS or bad base64/JSON; `too_large`: longer than `maxTokenBytes`;
 * `algorithm`: `alg` not in the allow-list; `unknown_key`: no key in the JWKS for its `kid`;
 * `signature`: the signature does not verify; `expired` / `not_yet_valid` / `too_old`: time claims;
 * `claim`: `iss`, `aud`, `typ`, a required claim or a `crit` header failed.
 */
export type InvalidTokenReason =
  | 'malformed'
  | 'too_large'
  | 'algorithm'
  | 'unknown_key'
  | 'signature'
  | 'expired'
  | 'not_yet_valid'
  | 'too_old'
  | 'claim';

/** The access token was refused (`INVALID_TOKEN`); answer 401 with `error="invalid_token"`. */
export class InvalidTokenError extends AuthError {
  /** Stable reason, e.g. `expired`; see {@link InvalidTokenReason}. */
  readonly reason: InvalidTokenReason;

  constructor(reason: InvalidTokenReason, message: string, options?: { cause?: unknown }) {
    super('INVALID_TOKEN', message, options);
    this.reason = reason;
  }
}

/**
 * No usable signing keys (`JWKS_UNAVAILABLE`): the JWKS endpoint failed and the last good keys
 * are older than `jwks.maxStaleMs`, or were never fetched. Answer 503; check the issuer.
 */
export class JwksUnavailableError extends AuthError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('JWKS_UNAVAILABLE', message, options);
  }
}

/** The issuer's metadata could not be fetched or did not match (`DISCOVERY_FAILED`). */
export class DiscoveryError extends AuthError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('DISCOVERY_FAILED', message, options);
  }
}

/**
 * Why a token request failed: `oauth_error` (the server answered an RFC 6749 error body),
 * `http_status` (a non-2xx answer without one), `network`, `timeout`, or `invalid_response`
 * (a 2xx answer that is not a usable bearer token response).
 */
export type TokenRequestFailure =
  | 'oauth_error'
  | 'http_status'
  | 'network'
  | 'timeout'
  | 'invalid_response';

/**
 * A client-credentials token request failed (`TOKEN_REQUEST_FAILED`), after any retries. Carries
 * the RFC 6749 `error` / `error_description` of the server's error body when there was one:
 * `invalid_client` → check the client id, secret or key; `invalid_scope` → ask for scopes the
 * client is registered for; a 5xx, `network` or `timeout` failure → the issuer is unreachable.
 */
export class TokenRequestError extends AuthError {
  /** What kind of failure; see {@link TokenRequestFailure}. */
  readonly failure: TokenRequestFailure;
  /** HTTP status of the last answer, if there was one. */
  readonly status: number | undefined;
  /** RFC 6749 `error` code from the error body, e.g. `invalid_client`. */
  readonly error: string | undefined;
  /** RFC 6749 `error_description` from the error body. */
  readonly errorDescription: string | undefined;
  /** RFC 6749 `error_uri` from the error body. */
  readonly errorUri: string | undefined;
  /** How many requests were sent before giving up. */
  readonly attempts: number;

  constructor(
    message: string,
    details: {
      failure: TokenRequestFailure;
      status?: number | undefined;
      error?: string | undefined;
      errorDescription?: string | undefined;
      errorUri?: string | undefined;
      attempts?: number;
      cause?: unknown;
    },
  ) {
    super('TOKEN_REQUEST_FAILED', message, { cause: details.cause });
    this.failure = details.failure;
    this.status = details.status;
    this.error = details.error;
    this.errorDescription = details.errorDescription;
    this.errorUri = details.errorUri;
    this.attempts = details.attempts ?? 1;
  }
}

/**
 * Why a TOTP code was refused: `malformed` (not `digits` decimal digits), `mismatch` (no time step
 * in the window matches) or `replay` (it matches a step at or before `lastUsedStep`).
 */
export type TotpFailure = 'malformed' | 'mismatch' | 'replay';

/** A TOTP code was refused by `assertTotp` (`TOTP_INVALID`); ask the user for a fresh code. */
export class TotpError extends AuthError {
  /** Why; see {@link TotpFailure}. */
  readonly reason: TotpFailure;

  constructor(reason: TotpFailure, message: string) {
    super('TOTP_INVALID', message);
    this.reason = reason;
  }
}
