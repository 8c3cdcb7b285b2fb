import type { FastifyReply, FastifyRequest } from 'fastify';
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

declare module 'fastify' {
  interface FastifyRequest {
    /** The verified access token, set by `requireAuth`. */
    auth?: VerifiedToken;
  }
}

/** The verified access token `requireAuth` attached (`request.auth`), or `undefined`. */
export function authOf(request: FastifyRequest): VerifiedToken | undefined {
  return request.auth;
}

/** A Fastify hook (`onRequest` or `preHandler`, app-wide or per route). */
export type AuthHook = (request: FastifyRequest, reply: FastifyReply) => Promise<unknown>;

/**
 * Fastify hook: answers 401/400/403 per RFC 6750 unless the request carries a valid bearer
 * token (and meets `options.scopes` / `options.claims`); then sets `request.auth`.
 *
 * @example
 * app.addHook('onRequest', requireAuth(verifier));
 * app.get('/orders', { preHandler: requireScopes(['orders:read']) }, handler);
 */
export function requireAuth(verifier: Verifier, options?: RequireAuthOptions): AuthHook {
  const guard = verifyingGuard(verifier, options, 'requireAuth()');
  return async (request, reply) => {
    const outcome = await guard.authenticate(nodeCredentials(request.raw), abortOnClose(reply.raw));
    if (!outcome.ok) return send(reply, outcome.failure);
    request.auth = outcome.auth;
    return undefined;
  };
}

/** Fastify hook after `requireAuth`: 403 `insufficient_scope` unless `request.auth` has `scopes`. */
export function requireScopes(scopes: readonly string[], options?: RequireScopesOptions): AuthHook {
  return check(scopeGuard(scopes, options));
}

/** Fastify hook after `requireAuth`: 403 unless `request.auth`'s claims match `claims`. */
export function requireClaims(claims: ClaimRequirement, options?: RequireClaimsOptions): AuthHook {
  return check(claimGuard(claims, options));
}

function check(guard: Guard): AuthHook {
  return async (request, reply) => {
    const failure = guard.authorize(request.auth);
    return failure ? send(reply, failure) : undefined;
  };
}

function send(reply: FastifyReply, failure: AuthFailure): FastifyReply {
  return reply.code(failure.status).headers(failure.headers).send(failure.body);
}

// Every option and result type is also exported by '@ballast/auth'.
export type { RequireAuthOptions } from '../resource-server.ts';
export type { VerifiedToken } from '../verifier.ts';
