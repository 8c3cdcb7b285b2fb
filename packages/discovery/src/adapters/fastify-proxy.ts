import type { FastifyInstance, FastifyPluginCallback, FastifyReply, FastifyRequest } from 'fastify';
import { forwardNode } from '../router/node-exchange.ts';
import { type Router, routerOf } from '../router/router.ts';

/**
 * A Fastify plugin that forwards the requests the router's routes take: `app.register(proxy(router))`.
 * It registers each route's path prefix (and everything under it) for every method, in its own
 * encapsulated context whose body parser leaves the body unread, so it streams upstream. A request
 * under a prefix that no route takes (other method or headers) gets Fastify's 404.
 */
export function proxy(router: Router): FastifyPluginCallback {
  const impl = routerOf(router, 'proxy() of @ballast/discovery/fastify');
  const handler = (request: FastifyRequest, reply: FastifyReply): void => {
    const raw = request.raw;
    const url = raw.url ?? '/';
    const route = impl.match(raw.method ?? 'GET', url, raw.headers);
    if (route === undefined) {
      void reply.callNotFound();
      return;
    }
    void reply.hijack();
    forwardNode(impl, route, raw, reply.raw, url);
  };
  return (app: FastifyInstance, _options: unknown, done: (error?: Error) => void) => {
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', (_request, _payload, parsed) => parsed(null));
    const paths = new Set<string>();
    for (const route of impl.routes) {
      paths.add(route.prefix === '' ? '/' : route.prefix);
      paths.add(`${route.prefix}/*`);
    }
    for (const path of paths) app.all(path, handler);
    done();
  };
}
