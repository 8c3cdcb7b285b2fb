import {
  type AuthFailure,
  type ClaimRequirement,
  claimGuard,
  createGuard,
  type Guard,
  type RequireAuthOptions,
  type RequireClaimsOptions,
  type RequireScopesOptions,
  scopeGuard,
} from '../resource-server.ts';
import type { VerifiedToken, Verifier } from '../verifier.ts';

/** The part of a Hono `Context` the middleware uses (declare `Variables: AuthVariables`). */
export interface FetchContext {
  readonly req: { readonly raw: Request };
  set(key: 'auth', value: VerifiedToken): void;
  get(key: 'auth'): VerifiedToken | undefined;
}

/** Hono `Env['Variables']` for routes behind `requireAuth`: `c.get('auth')`. */
export interface AuthVariables {
  auth: VerifiedToken;
}

/** Hono-style middleware. */
export type FetchMiddleware = (
  c: FetchContext,
  next: () => Promise<void>,
) => Promise<Response | undefined>;

/**
 * For route handlers (Next.js, Bun, Deno, workers): resolves to the verified token, or to the
 * RFC 6750 error `Response` to return as is. Aborts a key fetch when `request.signal` aborts.
 *
 * @example
 * const auth = authenticate(verifier, { scopes: ['orders:read'] });
 * export async function GET(request: Request) {
 *   const token = await auth(request);
 *   if (token instanceof Response) return token;
 *   return Response.json({ hello: token.subject });
 * }
 */
export function authenticate(
  verifier: Verifier,
  options?: RequireAuthOptions,
): (request: Request) => Promise<VerifiedToken | Response> {
  const guard = createGuard(verifier, options, 'authenticate');
  return async (request) => {
    const q = request.url.indexOf('?');
    const header = request.headers.get('authorization');
    const outcome = await guard.authenticate(
      {
        authorization: header === null ? [] : [header],
        query: q === -1 ? '' : request.url.slice(q + 1),
      },
      request.signal,
    );
    return outcome.ok ? outcome.auth : toResponse(outcome.failure);
  };
}

/**
 * Hono middleware: answers 401/400/403 per RFC 6750 unless the request carries a valid bearer
 * token; then `c.set('auth', token)`.
 *
 * @example
 * const app = new Hono<{ Variables: AuthVariables }>();
 * app.use('/api/*', requireAuth(verifier));
 * app.get('/api/orders', requireScopes(['orders:read']), (c) => c.json(c.get('auth').claims));
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

export type {
  AccessRequirement,
  AuthFailure,
  ClaimMatcher,
  ClaimRequirement,
  RequireAuthOptions,
  RequireClaimsOptions,
  RequireScopesOptions,
} from '../resource-server.ts';
export type { VerifiedToken } from '../verifier.ts';
