import type { IncomingMessage, ServerResponse } from 'node:http';
import { abortOnClose, nodeCredentials } from '../bearer.ts';
import {
  type ClaimRequirement,
  claimGuard,
  type Guard,
  type RequireAuthOptions,
  type RequireClaimsOptions,
  type RequireScopesOptions,
  scopeGuard,
  verifyingGuard,
  writeFailure,
} from '../resource-server.ts';
import type { VerifiedToken, Verifier } from '../verifier.ts';

/** A `node:http` request that passed `requireAuth`. */
export type AuthenticatedRequest = IncomingMessage & { auth: VerifiedToken };

/** The verified access token `requireAuth` attached (`req.auth`), or `undefined`. */
export function authOf(req: IncomingMessage): VerifiedToken | undefined {
  return (req as Partial<AuthenticatedRequest>).auth;
}

/**
 * A check for `node:http` handlers: resolves to the verified token (also set as `req.auth`), or
 * writes the RFC 6750 answer (401/400/403/503) and resolves to `undefined`.
 *
 * @example
 * const auth = requireAuth(verifier, { scopes: ['orders:read'] });
 * createServer(async (req, res) => {
 *   const token = await auth(req, res);
 *   if (!token) return; // already answered
 *   res.end(`hello ${token.subject}`);
 * });
 */
export function requireAuth(
  verifier: Verifier,
  options?: RequireAuthOptions,
): (req: IncomingMessage, res: ServerResponse) => Promise<VerifiedToken | undefined> {
  const guard = verifyingGuard(verifier, options, 'requireAuth()');
  return async (req, res) => {
    const outcome = await guard.authenticate(nodeCredentials(req), abortOnClose(res));
    if (!outcome.ok) {
      writeFailure(res, outcome.failure);
      return undefined;
    }
    (req as AuthenticatedRequest).auth = outcome.auth;
    return outcome.auth;
  };
}

/** After `requireAuth`: true when `req.auth` has `scopes`; otherwise writes 403 and returns false. */
export function requireScopes(
  scopes: readonly string[],
  options?: RequireScopesOptions,
): (req: IncomingMessage, res: ServerResponse) => boolean {
  return check(scopeGuard(scopes, options));
}

/** After `requireAuth`: true when `req.auth`'s claims match; otherwise writes 403 and returns false. */
export function requireClaims(
  claims: ClaimRequirement,
  options?: RequireClaimsOptions,
): (req: IncomingMessage, res: ServerResponse) => boolean {
  return check(claimGuard(claims, options));
}

function check(guard: Guard): (req: IncomingMessage, res: ServerResponse) => boolean {
  return (req, res) => {
    const failure = guard.authorize((req as Partial<AuthenticatedRequest>).auth);
    if (failure) writeFailure(res, failure);
    return failure === undefined;
  };
}

// Every option and result type is also exported by '@ballast/auth'.
export type { RequireAuthOptions } from '../resource-server.ts';
export type { VerifiedToken } from '../verifier.ts';
