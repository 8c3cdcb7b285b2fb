import { fetchCredentials } from '../bearer.ts';
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

/** The part of a Hono `Context` the middleware uses (declare `Variables: AuthVariables`). */
export interface FetchContext {
  /** The request; `raw` is the fetch `Request`. */
  readonly req: { readonly raw: Request };
  /** Stores the verified token for later middleware and the handler. */
  set(key: 'auth', value: VerifiedToken): void;
  /** Reads the verified token `requireAuth` stored. */
  get(key: 'auth'): VerifiedToken | undefined;
}

/** Hono `Env['Variables']` for routes behind `requireAuth`: `c.get('auth')`. */
export interface AuthVariables {
  /** The verified access token, set by `requireAuth`. */
  auth: VerifiedToken;
}

/** Tokens verified by `authenticate()`/`requireAuth()`, by request (for code that only has the `Request`). */
const verifiedRequests = new WeakMap<Request, VerifiedToken>();

/**
 * The verified access token `requireAuth` stored (`c.get('auth')`), or `undefined`. Also accepts the
 * fetch `Request` itself (`c.req.raw`, or what a route handler got) once `requireAuth()` or
 * `authenticate()` verified it — for code that is handed the `Request` only, such as the `scope`
 * of `@ballast/idempotency/fetch`.
 */
export function authOf(c: Pick<FetchContext, 'get'> | Request): VerifiedToken | undefined {
  if (typeof Request !== 'undefined' && c instanceof Request) return verifiedRequests.get(c);
  return (c as Pick<FetchContext, 'get'>).get('auth');
}

/** Hono-style middleware. */
export type FetchMiddleware = (
  c: FetchContext,
  next: () => Promise<void>,
) => Promise<Response | undefined>;

/**
 * For route handlers (Next.js, Bun, Deno, workers): resolves to the verified token, or to the
 * RFC 6750 error `Response` to return as is. Aborts a key fetch when `request.signal` aborts.
 * See the README for a route-handler and a Hono example.
 */
export function authenticate(
  verifier: Verifier,
  options?: RequireAuthOptions,
): (request: Request) => Promise<VerifiedToken | Response> {
  const guard = verifyingGuard(verifier, options, 'authenticate()');
  return async (request) => {
    const outcome = await guard.authenticate(fetchCredentials(request), request);
    if (!outcome.ok) return toResponse(outcome.failure);
    verifiedRequests.set(request, outcome.auth);
    return outcome.auth;
  };
}

/**
 * Hono middleware: answers 401/400/403 per RFC 6750 unless the request carries a valid bearer
 * token; then `c.set('auth', token)`.
 */
export function requireAuth(verifier: Verifier, options?: RequireAuthOptions): FetchMiddleware {
  const auth = authenticate(verifier, options);
  return async (c, next) => {
    const result = await auth(c.req.raw);
    if (result instanceof Response) return result;
    c.set('auth', result);
    await next();
    return undefined;
  };
}

/** Hono middleware after `requireAuth`: 403 `insufficient_scope` unless the token has `scopes`. */
export function requireScopes(
  scopes: readonly string[],
  options?: RequireScopesOptions,
): FetchMiddleware {
  return check(scopeGuard(scopes, options));
}

/** Hono middleware after `requireAuth`: 403 unless the token's claims match `claims`. */
export function requireClaims(
  claims: ClaimRequirement,
  options?: RequireClaimsOptions,
): FetchMiddleware {
  return check(claimGuard(claims, options));
}

function check(guard: Guard): FetchMiddleware {
  return async (c, next) => {
    const failure = guard.authorize(c.get('auth'));
    if (failure) return toResponse(failure);
    await next();
    return undefined;
  };
}

function toResponse(failure: AuthFailure): Response {
  return new Response(JSON.stringify(failure.body), {
    status: failure.status,
    headers: failure.headers,
  });
}

// Every option and result type is also exported by '@ballast/auth'.
export type { RequireAuthOptions } from '../resource-server.ts';
export type { VerifiedToken } from '../verifier.ts';
