import { forwardFetch, problemResponse } from '../router/fetch-exchange.ts';
import { problem } from '../router/problems.ts';
import { type Router, routerOf } from '../router/router.ts';

/** The part of a Hono `Context` the middleware uses. */
export interface ProxyContext {
  /** The request; `raw` is the fetch `Request`. */
  readonly req: { readonly raw: Request };
  /** `@hono/node-server` puts the Node request here (`env.incoming`): the peer's address. */
  readonly env?: unknown;
}

/** Options of the fetch adapter's {@link proxy}. */
export interface FetchProxyOptions {
  /**
   * The peer's address (for `X-Forwarded-For`, `Forwarded` and `trustProxy`), which a fetch
   * `Request` does not carry. Default: `@hono/node-server`'s `c.env.incoming.socket.remoteAddress`,
   * else unknown.
   */
  remoteAddress?: ((request: Request, context?: ProxyContext) => string | undefined) | undefined;
}

/**
 * What `proxy()` returns: call it with a `Request` (route handlers, Bun, Deno) for the upstream's
 * `Response`, or `undefined` when no route takes the request; or use it as Hono middleware.
 */
export interface FetchProxy {
  /** The upstream's (or a problem) `Response`, or `undefined` when no route takes `request`. */
  (request: Request): Promise<Response | undefined>;
  /** Hono middleware: forwards what a route takes, else `next()`. */
  (c: ProxyContext, next: () => Promise<void>): Promise<Response | undefined>;
}

function nodePeer(context: ProxyContext | undefined): string | undefined {
  const env = context?.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined;
  return env?.incoming?.socket?.remoteAddress;
}

/**
 * Forwards fetch `Request`s the router's routes take; the response body streams from the
 * upstream. A client that goes away (`request.signal`) aborts the upstream request.
 *
 * @example
 * app.use('/api/*', proxy(router)); // Hono
 * export const GET = (request: Request) => forward(request) ?? new Response(null, { status: 404 });
 */
export function proxy(router: Router, options: FetchProxyOptions = {}): FetchProxy {
  const impl = routerOf(router, 'proxy() of @ballast/discovery/fetch');
  const peerOf = options.remoteAddress ?? ((_request, context) => nodePeer(context));
  const forward = (request: Request, context?: ProxyContext): Promise<Response> | undefined => {
    let url: URL;
    try {
      url = new URL(request.url);
    } catch {
      return Promise.resolve(problemResponse(problem('BAD_REQUEST_PATH')));
    }
    const path = url.pathname + url.search;
    const route = impl.match(request.method, path, headerRecord(request.headers));
    if (route === undefined) return undefined;
    return forwardFetch(impl, route, request, url, {
      remoteAddress: peerOf(request, context),
    });
  };
  return (async (input: Request | ProxyContext, next?: () => Promise<void>) => {
    if (input instanceof Request) return forward(input);
    const response = forward(input.req.raw, input);
    if (response !== undefined) return response;
    await next?.();
    return undefined;
  }) as FetchProxy;
}

/** Route header conditions read a plain record. */
function headerRecord(headers: Headers): Record<string, string> {
  const record: Record<string, string> = {};
  for (const [name, value] of headers) record[name] = value;
  return record;
}
