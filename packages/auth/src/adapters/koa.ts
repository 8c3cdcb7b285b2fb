import type { Context, Middleware, Next } from 'koa';
import { abortOnClose, nodeCredentials } from '../bearer.ts';
import {
  type AuthFailure,
  type ClaimRequirement,
  claimGuard,
  type Guard,
  type RequireAuthOptions,
  type RequireClaimsOptions,
  type RequireScopesOptions,
  scopeGuard,
  verifyingGuard,
} from '../resource-server.ts';
import type { VerifiedToken, Verifier } from '../verifier.ts';

declare module 'koa' {
  interface DefaultState {
    /** The verified access token, set by `requireAuth` (Koa keeps per-request data in `ctx.state`). */
    auth?: VerifiedToken;
  }
}

/** The verified access token `requireAuth` attached (`ctx.state.auth`), or `undefined`. */
export function authOf(ctx: { readonly state: object }): VerifiedToken | undefined {
  return (ctx.state as { auth?: VerifiedToken }).auth;
}

/**
 * Koa middleware: answers 401/400/403 per RFC 6750 unless the request carries a valid bearer
 * token (and meets `options.scopes` / `options.claims`); then sets `ctx.state.auth`.
 */
export function requireAuth(verifier: Verifier, options?: RequireAuthOptions): Middleware {
  const guard = verifyingGuard(verifier, options, 'requireAuth()');
  return async (ctx: Context, next: Next) => {
    const outcome = await guard.authenticate(nodeCredentials(ctx.req), abortOnClose(ctx.res));
    if (!outcome.ok) return send(ctx, outcome.failure);
    ctx.state.auth = outcome.auth;
    await next();
  };
}

/** Koa middleware after `requireAuth`: 403 `insufficient_scope` unless `ctx.state.auth` has `scopes`. */
export function requireScopes(
  scopes: readonly string[],
  options?: RequireScopesOptions,
): Middleware {
  return check(scopeGuard(scopes, options));
}

/** Koa middleware after `requireAuth`: 403 unless `ctx.state.auth`'s claims match `claims`. */
export function requireClaims(
  claims: ClaimRequirement,
  options?: RequireClaimsOptions,
): Middleware {
  return check(claimGuard(claims, options));
}

function check(guard: Guard): Middleware {
  return async (ctx: Context, next: Next) => {
    const failure = guard.authorize(ctx.state.auth as VerifiedToken | undefined);
    if (failure) return send(ctx, failure);
    await next();
  };
}

function send(ctx: Context, failure: AuthFailure): void {
  ctx.status = failure.status;
  ctx.set(failure.headers);
  ctx.body = failure.body;
}

// Every option and result type is also exported by '@ballast/auth'.
export type { RequireAuthOptions } from '../resource-server.ts';
export type { VerifiedToken } from '../verifier.ts';
