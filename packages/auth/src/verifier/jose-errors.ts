import {
  type AuthError,
  InvalidTokenError,
  type InvalidTokenReason,
  isAuthError,
} from '../errors.ts';

/**
 * Maps jose's errors (signature and JOSE header; claims are checked by `checkClaims`) to stable
 * reasons and our own messages (jose's text stays in `cause`). @internal
 */
export function toAuthError(error: unknown): AuthError {
  if (isAuthError(error)) return error;
  const { code } = (error ?? {}) as { code?: string };
  let reason: InvalidTokenReason = 'signature';
  let message = 'the token signature does not verify with the issuer key';
  switch (code) {
    case 'ERR_JOSE_ALG_NOT_ALLOWED':
      reason = 'algorithm';
      message = 'the token "alg" is not in the algorithms allow-list';
      break;
    case 'ERR_JWS_INVALID':
    case 'ERR_JOSE_NOT_SUPPORTED':
      reason = 'malformed';
      message = 'the token is not a well-formed signed JWT (or uses an unsupported header)';
      break;
  }
  return new InvalidTokenError(reason, message, { cause: error });
}
