import type { IncomingMessage, ServerResponse } from 'node:http';
import { forwardNode } from '../router/node-exchange.ts';
import { type Router, routerOf } from '../router/router.ts';

/** Express middleware (also connect / any `(req, res, next)` stack). */
export type ProxyMiddleware = (
  req: IncomingMessage,
  res: ServerResponse,
  next: (error?: unknown) => void,
) => void;

/**
 * Express middleware that forwards the requests a route takes; others go to `next()`. Routes match
 * the full path (`req.originalUrl`), wherever the middleware is mounted. Mount it before any body
 * parser (`express.json()`), which would consume the body the proxy streams upstream.
 *
 * @example
 * app.use(proxy(router));
 */
export function proxy(router: Router): ProxyMiddleware {
  const impl = routerOf(router, 'proxy() of @ballast/discovery/express');
  return (req, res, next) => {
    const url = (req as { originalUrl?: string }).originalUrl ?? req.url ?? '/';
    const route = impl.match(req.method ?? 'GET', url, req.headers);
    if (route === undefined) next();
    else forwardNode(impl, route, req, res, url);
  };
}
