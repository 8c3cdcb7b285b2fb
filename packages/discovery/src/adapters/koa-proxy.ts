import type { Context, Middleware, Next } from 'koa';
import { forwardNode } from '../router/node-exchange.ts';
import { type Router, routerOf } from '../router/router.ts';

/**
 * Koa middleware that forwards the requests a route takes (Koa's response handling is switched
 * off for them, `ctx.respond = false`; the middleware resolves when the response is over); others
 * go to `next()`. Routes match the full path (`ctx.originalUrl`). Mount it before any body parser.
 *
 * @example
 * app.use(proxy(router));
 */
export function proxy(router: Router): Middleware {
  const impl = routerOf(router, 'proxy() of @ballast/discovery/koa');
  return (ctx: Context, next: Next) => {
    const url = ctx.originalUrl;
    const route = impl.match(ctx.method, url, ctx.req.headers);
    if (route === undefined) return next();
    ctx.respond = false;
    const res = ctx.res;
    const over = new Promise<void>((resolve) => res.once('close', resolve));
    forwardNode(impl, route, ctx.req, res, url);
    return over;
  };
}
