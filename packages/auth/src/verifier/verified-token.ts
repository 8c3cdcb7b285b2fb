import type { JWTHeaderParameters, JWTPayload } from 'jose';
import { scopesOf } from '../scopes.ts';
import type { VerifiedToken } from '../verifier.ts';

/** The frozen result of a verified token, shared by every request that presents it. @internal */
export function verifiedToken(payload: JWTPayload, header: JWTHeaderParameters): VerifiedToken {
  const claims = deepFreeze(payload);
  return Object.freeze({
    subject: typeof claims.sub === 'string' ? claims.sub : undefined,
    scopes: scopesOf(claims),
    claims,
    header: Object.freeze(header),
    expiresAt: typeof claims.exp === 'number' ? claims.exp * 1000 : undefined,
  });
}

/** Cached results expire at `exp` (and at `iat + maxTokenAgeMs`), never later. @internal */
export function cacheUntil(
  payload: JWTPayload,
  maxTokenAgeMs: number | undefined,
): number | undefined {
  if (typeof payload.exp !== 'number') return undefined;
  let until = payload.exp * 1000;
  if (maxTokenAgeMs !== undefined && typeof payload.iat === 'number') {
    until = Math.min(until, payload.iat * 1000 + maxTokenAgeMs);
  }
  return until;
}

/** Freezes a parsed JSON value and everything in it (JSON has no cycles nor frozen parts). */
function deepFreeze<T>(value: T): T {
  Object.freeze(value);
  for (const key in value) {
    const member = value[key];
    if (typeof member === 'object' && member !== null) deepFreeze(member);
  }
  return value;
}
