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

declare global {
  namespace Express {
    interface Request {
      /** The verified access token, set by `requireAuth`. */
      auth?: VerifiedToken;
    }
  }
}

/**
 * Express middleware: answers 401/400/403 per RFC 6750 unless the request carries a valid bearer
 * token (and meets `options.scopes` / `options.claims`); then sets `req.auth` and calls `next()`.
 */
export function requireAuth(verifier: Verifier, options?: RequireAuthOptions): RequestHandler {
  const guard = verifyingGuard(verifier, options, 'requireAuth()');
  return (req: Request, res: Response, next: NextFunction) => {
    guard.authenticate(nodeCredentials(req), abortOnClose(res)).then((outcome) => {
      if (!outcome.ok) return writeFailure(res, outcome.failure);
      req.auth = outcome.auth;
      next();
    }, next);
  };
}

/** Express middleware after `requireAuth`: 403 `insufficient_scope` unless `req.auth` has `scopes`. */
export function requireScopes(
  scopes: readonly string[],
  options?: RequireScopesOptions,
): RequestHandler {
  return check(scopeGuard(scopes, options));
}

/** Express middleware after `requireAuth`: 403 unless `req.auth`'s claims match `claims`. */
export function requireClaims(
  claims: ClaimRequirement,
  options?: RequireClaimsOptions,
): RequestHandler {
  return check(claimGuard(claims, options));
}

function check(guard: Guard): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    const failure = guard.authorize(req.auth);
    if (failure) writeFailure(res, failure);
    else next();
  };
}

// Every option and result type is also exported by '@ballast/auth'.
export type { RequireAuthOptions } from '../resource-server.ts';
export type { VerifiedToken } from '../verifier.ts';
