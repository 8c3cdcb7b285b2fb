import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { Dispatcher } from 'undici';
import { announcesBody, type HeaderMap, requestHeaders, responseHeaders } from './headers.ts';
import { type Problem, ProxyAbort, problem, problemFor } from './problems.ts';
import { type CompiledRoute, type RouterImpl, upstreamPath } from './router.ts';
import { tracing } from './tracing.ts';

type Controller = Dispatcher.DispatchController;

/**
 * Forwards one Node request (`IncomingMessage`/`ServerResponse`, as node:http, Express, Koa and
 * Fastify hand them over) on `route`. `url` is the request's path and query as the client sent it.
 * Answers every failure itself; never throws.
 */
export function forwardNode(
  router: RouterImpl,
  route: CompiledRoute,
  req: IncomingMessage,
  res: ServerResponse,
  url: string,
): void {
  const incoming = req.headers as HeaderMap;
  if (incoming.upgrade !== undefined && isUpgrade(incoming.connection)) {
    sendProblem(res, problem('UPGRADE_NOT_SUPPORTED', undefined, true));
    return;
  }
  const path = upstreamPath(route, url);
  if (path === undefined) {
    sendProblem(res, problem('BAD_REQUEST_PATH', undefined, announcesBody(incoming)));
    return;
  }
  if (route.rateLimiter !== undefined) {
    const waitMs = route.rateLimiter.tryAcquire();
    if (waitMs > 0) {
      sendProblem(res, problem('RATE_LIMITED', waitMs, announcesBody(incoming)));
      return;
    }
  }
  const length = incoming['content-length'];
  const limit = route.maxRequestBodyBytes;
  if (length !== undefined && limit !== Infinity && Number(length) > limit) {
    sendProblem(res, problem('REQUEST_TOO_LARGE', undefined, true));
    return;
  }
  const withBody = announcesBody(incoming);
  const socket = req.socket;
  const settings = router.settings;
  const remoteAddress = socket.remoteAddress;
  const headers = requestHeaders(
    incoming,
    {
      remoteAddress,
      proto: (socket as TLSSocket).encrypted === true ? 'https' : 'http',
      trusted: settings.trust(remoteAddress),
    },
    settings.forwarded,
    route.preserveHost,
    route.requestRewrite,
    incoming.traceparent !== undefined && tracing(),
  );
  const exchange = new NodeExchange(
    route,
    req,
    res,
    withBody && length === undefined ? limit : Infinity,
  );
  try {
    route.dispatcher.dispatch(
      {
        origin: route.origin,
        path,
        method: req.method as Dispatcher.HttpMethod,
        headers: headers as Record<string, string | string[]>,
        body: withBody ? req : null,
        headersTimeout: route.headersTimeout,
        bodyTimeout: route.bodyTimeout,
      },
      exchange,
    );
  } catch (error) {
    exchange.onResponseError(null, error as Error);
  }
}

/** A request body follows the headers (RFC 9112 §6.3). */
function isUpgrade(connection: string | string[] | undefined): boolean {
  if (connection === undefined) return false;
  const value = typeof connection === 'string' ? connection : connection.join(',');
  return /(?:^|,)\s*upgrade\s*(?:,|$)/i.test(value);
}

/** Writes `p` as `application/problem+json`. */
export function sendProblem(res: ServerResponse, p: Problem): void {
  if (res.headersSent || res.destroyed) {
    res.destroy();
    return;
  }
  const headers: OutgoingHttpHeaders = {
    'content-type': 'application/problem+json',
    'content-length': Buffer.byteLength(p.body),
    'cache-control': 'no-store',
  };
  if (p.retryAfterSeconds !== undefined) headers['retry-after'] = String(p.retryAfterSeconds);
  if (p.close) headers.connection = 'close';
  res.writeHead(p.status, headers);
  res.end(p.body);
}

const CLIENT_CLOSED = 'The client closed the connection.';

/** The undici handler of one proxied request: streams the upstream response into `res`. */
class NodeExchange implements Dispatcher.DispatchHandler {
  readonly #route: CompiledRoute;
  readonly #req: IncomingMessage;
  readonly #res: ServerResponse;
  readonly #requestLimit: number;
  #controller: Controller | undefined = undefined;
  #done = false;
  #clientGone = false;
  #received = 0;
  #sent = 0;
  #drainHooked = false;

  constructor(
    route: CompiledRoute,
    req: IncomingMessage,
    res: ServerResponse,
    requestLimit: number,
  ) {
    this.#route = route;
    this.#req = req;
    this.#res = res;
    this.#requestLimit = requestLimit;
    res.once('close', this.#onClose);
  }

  readonly #onClose = (): void => {
    if (this.#done) return;
    this.#clientGone = true;
    this.#controller?.abort(new ProxyAbort(CLIENT_CLOSED));
  };

  readonly #onDrain = (): void => {
    this.#controller?.resume();
  };

  readonly #onRequestData = (chunk: Buffer): void => {
    this.#received += chunk.length;
    if (this.#received > this.#requestLimit) {
      this.#req.off('data', this.#onRequestData);
      this.#controller?.abort(new ProxyAbort('request too large', 'REQUEST_TOO_LARGE'));
    }
  };

  onRequestStart(controller: Controller): void {
    this.#controller = controller;
    if (this.#clientGone) {
      controller.abort(new ProxyAbort(CLIENT_CLOSED));
      return;
    }
    // A chunked body under a size limit: counted as undici reads it (same flowing stream).
    if (this.#requestLimit !== Infinity) this.#req.on('data', this.#onRequestData);
  }

  onResponseStart(
    controller: Controller,
    statusCode: number,
    headers: Record<string, string | string[] | undefined>,
  ): void {
    this.#controller = controller;
    if (this.#clientGone) {
      controller.abort(new ProxyAbort(CLIENT_CLOSED));
      return;
    }
    const limit = this.#route.maxResponseBodyBytes;
    if (limit !== Infinity) {
      const length = headers['content-length'];
      if (length !== undefined && Number(length) > limit) {
        controller.abort(new ProxyAbort('response too large', 'RESPONSE_TOO_LARGE'));
        return;
      }
    }
    this.#res.writeHead(
      statusCode,
      responseHeaders(headers, this.#route.responseRewrite) as OutgoingHttpHeaders,
    );
  }

  onResponseData(controller: Controller, chunk: Buffer): void {
    const limit = this.#route.maxResponseBodyBytes;
    if (limit !== Infinity) {
      this.#sent += chunk.length;
      if (this.#sent > limit) {
        controller.abort(new ProxyAbort('response too large', 'RESPONSE_TOO_LARGE'));
        return;
      }
    }
    if (this.#res.write(chunk)) return;
    controller.pause();
    if (!this.#drainHooked) {
      this.#drainHooked = true;
      this.#res.on('drain', this.#onDrain);
    }
  }

  onResponseEnd(): void {
    this.#finish();
    this.#res.end();
  }

  onResponseError(_controller: Controller | null, error: Error): void {
    if (this.#done) return;
    this.#finish();
    if (this.#clientGone) return;
    const res = this.#res;
    // Mid-body: cut the response so the client sees a truncated body, never a hang.
    if (res.headersSent) res.destroy();
    else sendProblem(res, problemFor(error));
  }

  #finish(): void {
    this.#done = true;
    if (this.#requestLimit !== Infinity) this.#req.off('data', this.#onRequestData);
    if (this.#drainHooked) this.#res.off('drain', this.#onDrain);
  }
}
