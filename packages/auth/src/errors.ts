import { BallastError, errorGuard, invalidOptionsError } from '@ballast/kernel';

/** Stable codes of every error this package throws. */
export type AuthErrorCode =
  | 'INVALID_OPTIONS'
  | 'INVALID_TOKEN'
  | 'JWKS_UNAVAILABLE'
  | 'DISCOVERY_FAILED'
  | 'TOKEN_REQUEST_FAILED'
  | 'TOTP_INVALID'
  | 'ABORTED'
  | 'CLOSED';

/**
 * Base class of every error thrown by `@ballast/auth`: a stable `code`, a message that says what to
 * do, and a `cause`. `instanceof` and {@link isAuthError} work across two installed copies of the
 * package (and across its ESM and CommonJS builds); each code has its own subclass.
 */
export abstract class AuthError<C extends AuthErrorCode = AuthErrorCode> extends BallastError<C> {
  static override readonly brand: symbol = Symbol.for('@ballast/auth.error');
}

/**
 * A bad option (`INVALID_OPTIONS`), thrown at construction: `option` is its dotted path
 * (`jwks.timeoutMs`), `received` the value passed. Fix the named option.
 */
export class InvalidOptionsError extends invalidOptionsError(AuthError) {}

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
export class InvalidTokenError extends AuthError<'INVALID_TOKEN'> {
  static override readonly code = 'INVALID_TOKEN';
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
export class JwksUnavailableError extends AuthError<'JWKS_UNAVAILABLE'> {
  static override readonly code = 'JWKS_UNAVAILABLE';
  constructor(message: string, options?: { cause?: unknown }) {
    super('JWKS_UNAVAILABLE', message, options);
  }
}

/** The issuer's metadata could not be fetched or did not match (`DISCOVERY_FAILED`). */
export class DiscoveryError extends AuthError<'DISCOVERY_FAILED'> {
  static override readonly code = 'DISCOVERY_FAILED';
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

/** What a {@link TokenRequestError} carries besides its message. */
export interface TokenRequestDetails {
  /** What kind of failure. */
  readonly failure: TokenRequestFailure;
  /** HTTP status of the last answer, if there was one. */
  readonly status?: number | undefined;
  /** RFC 6749 `error` code from the error body. */
  readonly error?: string | undefined;
  /** RFC 6749 `error_description` from the error body. */
  readonly errorDescription?: string | undefined;
  /** RFC 6749 `error_uri` from the error body. */
  readonly errorUri?: string | undefined;
  /** How many requests were sent before giving up (default 1). */
  readonly attempts?: number | undefined;
  /** The underlying error. */
  readonly cause?: unknown;
}

/**
 * A client-credentials token request failed (`TOKEN_REQUEST_FAILED`), after any retries. Carries
 * the RFC 6749 `error` / `error_description` of the server's error body when there was one:
 * `invalid_client` → check the client id, secret or key; `invalid_scope` → ask for scopes the
 * client is registered for; a 5xx, `network` or `timeout` failure → the issuer is unreachable.
 */
export class TokenRequestError extends AuthError<'TOKEN_REQUEST_FAILED'> {
  static override readonly code = 'TOKEN_REQUEST_FAILED';
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

  constructor(message: string, details: TokenRequestDetails) {
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
export class TotpError extends AuthError<'TOTP_INVALID'> {
  static override readonly code = 'TOTP_INVALID';
  /** Why; see {@link TotpFailure}. */
  readonly reason: TotpFailure;

  constructor(reason: TotpFailure, message: string) {
    super('TOTP_INVALID', message);
    this.reason = reason;
  }
}

/**
 * The caller's `signal` aborted the call (`ABORTED`): `verify()`, `getToken()`, `refreshKeys()`.
 * The signal's reason is the `cause`. Nothing to do unless the abort was unexpected.
 */
export class AbortedError extends AuthError<'ABORTED'> {
  static override readonly code = 'ABORTED';
  constructor(message: string, options?: { cause?: unknown }) {
    super('ABORTED', message, options);
  }
}

/**
 * The verifier or token source was closed (`CLOSED`) before or during the call. Create a new one;
 * closing is for shutdown.
 */
export class ClosedError extends AuthError<'CLOSED'> {
  static override readonly code = 'CLOSED';
  constructor(message: string, options?: { cause?: unknown }) {
    super('CLOSED', message, options);
  }
}

/** Each code of `@ballast/auth` and the class of its errors, as {@link isAuthError} narrows them. */
export type AuthErrorMap = {
  INVALID_OPTIONS: InvalidOptionsError;
  INVALID_TOKEN: InvalidTokenError;
  JWKS_UNAVAILABLE: JwksUnavailableError;
  DISCOVERY_FAILED: DiscoveryError;
  TOKEN_REQUEST_FAILED: TokenRequestError;
  TOTP_INVALID: TotpError;
  ABORTED: AbortedError;
  CLOSED: ClosedError;
};

/**
 * True when `error` was thrown by any copy of `@ballast/auth`; with a `code`, true only for that
 * code and narrowed to its class (`isAuthError(e, 'INVALID_TOKEN')` → `InvalidTokenError`).
 */
export const isAuthError = errorGuard<AuthErrorMap>(AuthError);
