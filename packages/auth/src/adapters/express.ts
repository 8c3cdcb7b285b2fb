import type { NextFunction, Request, RequestHandler, Response } from 'express';
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

// No `declare global { namespace Express { interface Request { auth … } } }` here: other
// middleware declares `req.auth` with its own type (express-oauth2-jwt-bearer does), and two
// declarations of one property with different types fail to compile (TS2717), which would block
// a gradual migration. The token is read, typed, with `authOf(req)`.
const AUTH = Symbol.for('@ballast/auth.express.token');

type WithToken = { [AUTH]?: VerifiedToken; auth?: unknown };

/**
 * The verified access token `requireAuth` attached to `req`, or `undefined` on a route it did not
 * protect. Typed, and unaffected by what other middleware declares or stores as `req.auth` (which
 * `requireAuth` also sets, untyped, for JavaScript callers).
 */
export function authOf(req: Request): VerifiedToken | undefined {
  return (req as WithToken)[AUTH];
}

/**
 * Express middleware: answers 401/400/403 per RFC 6750 unless the request carries a valid bearer
 * token (and meets `options.scopes` / `options.claims`); then attaches it (read it with
 * {@link authOf}) and calls `next()`.
 */
export function requireAuth(verifier: Verifier, options?: RequireAuthOptions): RequestHandler {
  const guard = verifyingGuard(verifier, options, 'requireAuth()');
  return (req: Request, res: Response, next: NextFunction) => {
    guard.authenticate(nodeCredentials(req), abortOnClose(res)).then((outcome) => {
      if (!outcome.ok) return writeFailure(res, outcome.failure);
      (req as WithToken)[AUTH] = outcome.auth;
      (req as WithToken).auth = outcome.auth;
      next();
    }, next);
  };
}

/** Express middleware after `requireAuth`: 403 `insufficient_scope` unless the token has `scopes`. */
export function requireScopes(
  scopes: readonly string[],
  options?: RequireScopesOptions,
): RequestHandler {
  return check(scopeGuard(scopes, options));
}

/** Express middleware after `requireAuth`: 403 unless the token's claims match `claims`. */
export function requireClaims(
  claims: ClaimRequirement,
  options?: RequireClaimsOptions,
): RequestHandler {
  return check(claimGuard(claims, options));
}

function check(guard: Guard): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    const failure = guard.authorize(authOf(req));
    if (failure) writeFailure(res, failure);
    else next();
  };
}

// Every option and result type is also exported by '@ballast/auth'.
export type { RequireAuthOptions } from '../resource-server.ts';
export type { VerifiedToken } from '../verifier.ts';
