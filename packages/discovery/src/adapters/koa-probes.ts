import type { Context, Middleware, Next } from 'koa';
import type { Health } from '../lifecycle/health.ts';
import { type ProbesOptions, probeRoutes } from '../lifecycle/probes.ts';

/**
 * Koa middleware answering the health probes (`GET`/`HEAD` on `/livez`, `/readyz`, `/health`);
 * every other request goes to `next()`.
 *
 * @example
 * app.use(probes(health));
 */
export function probes(health: Health, options?: ProbesOptions<Context>): Middleware {
  const routes = probeRoutes(health, options, 'probes()');
  return async (ctx: Context, next: Next) => {
    const kind = routes.match(ctx.method, ctx.path);
    if (kind === undefined) return next();
    const answer = await routes.answer(kind, ctx, ctx.method === 'HEAD');
    // Body first: Koa (2.0) sets a text content type when a string body is assigned.
    ctx.body = answer.body;
    ctx.status = answer.statusCode;
    ctx.set(answer.headers as Record<string, string>);
  };
}

export type { ProbesOptions } from '../lifecycle/probes.ts';
