// The public surface of @ballast/auth: explicit named exports, values first, then types.
// Verifier / middleware half and service-to-service half each add their lines here.

export {
  AuthError,
  DiscoveryError,
  InvalidTokenError,
  isAuthError,
  JwksUnavailableError,
} from './errors.ts';
export { hasScopes, scopesOf } from './scopes.ts';
export { createVerifier } from './verifier.ts';
export { ASYMMETRIC_ALGORITHMS, HMAC_ALGORITHMS } from './verifier-options.ts';

// Types

export type { Clock } from './clock.ts';
export type { AuthErrorCode, InvalidTokenReason } from './errors.ts';
export type { JwksEvent, JwksState, JwksStatus, Subscription } from './jwks.ts';
export type { ScopeMode } from './scopes.ts';
export type { VerifiedToken, Verifier, VerifierStatus, VerifyOptions } from './verifier.ts';
export type { VerifierAlgorithm, VerifierOptions } from './verifier-options.ts';
