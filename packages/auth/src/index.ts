// The public surface of @ballast/auth: explicit named exports, values first, then types.

export { clientCredentials } from './client-credentials.ts';
export {
  AbortedError,
  AuthError,
  ClosedError,
  DiscoveryError,
  InvalidOptionsError,
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

export type { Clock, Listener, Subscription } from '@ballast/kernel';
export type { CredentialInput } from './bearer.ts';
export type {
  ClientCredentialsOptions,
  ClientCredentialsTokenSource,
  PrivateKeyJwtOptions,
  TokenRetryOptions,
} from './client-credentials.ts';
export type {
  AuthErrorCode,
  AuthErrorMap,
  InvalidTokenReason,
  TokenRequestDetails,
  TokenRequestFailure,
  TotpFailure,
} from './errors.ts';
export type { FetchLike } from './http-exchange.ts';
export type { JwksEvent, JwksState, JwksStatus } from './jwks.ts';
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
  GenerateTotpSecretOptions,
  TotpAlgorithm,
  TotpOptions,
  TotpParameters,
  TotpUriOptions,
  TotpVerification,
  VerifyTotpOptions,
} from './totp.ts';
export type {
  RefreshKeysOptions,
  VerifiedToken,
  Verifier,
  VerifierStatus,
  VerifyOptions,
} from './verifier.ts';
export type {
  JwksOptions,
  VerifierAlgorithm,
  VerifierCacheOptions,
  VerifierOptions,
} from './verifier-options.ts';
