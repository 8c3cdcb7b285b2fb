// The public surface of @ballast/auth: explicit named exports, values first, then types.
// Verifier / middleware half and service-to-service half each add their lines here.

export { clientCredentials } from './client-credentials.ts';
export {
  AuthError,
  DiscoveryError,
  InvalidTokenError,
  isAuthError,
  JwksUnavailableError,
  TokenRequestError,
  TotpError,
} from './errors.ts';
export { createGuard } from './resource-server.ts';
export { hasScopes, scopesOf } from './scopes.ts';
export { assertTotp, generateTotpSecret, totp, totpUri, verifyTotp } from './totp.ts';
export { createVerifier } from './verifier.ts';
export { ASYMMETRIC_ALGORITHMS, HMAC_ALGORITHMS } from './verifier-options.ts';

// Types

export type { CredentialInput } from './bearer.ts';
export type {
  ClientCredentialsOptions,
  ClientCredentialsTokenSource,
  PrivateKeyJwtOptions,
} from './client-credentials.ts';
export type { Clock } from './clock.ts';
export type {
  AuthErrorCode,
  InvalidTokenReason,
  TokenRequestFailure,
  TotpFailure,
} from './errors.ts';
export type { FetchLike } from './http-exchange.ts';
export type { JwksEvent, JwksState, JwksStatus, Subscription } from './jwks.ts';
export type {
  AccessRequirement,
  AuthFailure,
  AuthOutcome,
  ClaimMatcher,
  ClaimRequirement,
  Guard,
  RequireAuthOptions,
  RequireClaimsOptions,
  RequireScopesOptions,
} from './resource-server.ts';
export type { ScopeMode } from './scopes.ts';
export type { GetTokenOptions, TokenSource } from './token-source.ts';
export type {
  TotpAlgorithm,
  TotpOptions,
  TotpParameters,
  TotpUriOptions,
  TotpVerification,
  VerifyTotpOptions,
} from './totp.ts';
export type { VerifiedToken, Verifier, VerifierStatus, VerifyOptions } from './verifier.ts';
export type { VerifierAlgorithm, VerifierOptions } from './verifier-options.ts';
