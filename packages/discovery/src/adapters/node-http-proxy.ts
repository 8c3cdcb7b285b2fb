import type { IncomingMessage, ServerResponse } from 'node:http';
import { forwardNode, sendProblem } from '../router/node-exchange.ts';
import { problem } from '../router/problems.ts';
import { type Router, routerOf } from '../router/router.ts';

/** A node:http request listener, also usable as connect-style middleware (`next`). */
export type ProxyListener = (
  req: IncomingMessage,
  res: ServerResponse,
  next?: (error?: unknown) => void,
) => void;

/**
 * A node:http request listener that forwards requests a route takes: `http.createServer(proxy(router))`.
 * Other requests go to `next()` when one is given, else get `404 ROUTE_NOT_FOUND`.
 */
export function proxy(router: Router): ProxyListener {
  const impl = routerOf(router, 'proxy() of @ballast/discovery/node-http');
  return (req, res, next) => {
    const url = req.url ?? '/';
    const route = impl.match(req.method ?? 'GET', url, req.headers);
    if (route !== undefined) forwardNode(impl, route, req, res, url);
    else if (next !== undefined) next();
    else sendProblem(res, problem('ROUTE_NOT_FOUND'));
  };
}
