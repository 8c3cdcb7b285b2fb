import type { Dispatcher } from 'undici';
import { announcesBody, type HeaderMap, requestHeaders, responseHeaders } from './headers.ts';
import { type Problem, ProxyAbort, problem, problemFor } from './problems.ts';
import { type CompiledRoute, type RouterImpl, upstreamPath } from './router.ts';
import { tracing } from './tracing.ts';

type Controller = Dispatcher.DispatchController;

/** What a fetch-style server knows about the connection (the `Request` does not carry it). */
export interface FetchPeer {
  /** The peer's address, when the server exposes it. */
  readonly remoteAddress: string | undefined;
}

/**
 * Forwards one fetch `Request` on `route`: resolves to the upstream's `Response` (its body
 * streamed) or to a problem `Response`. Never rejects.
 */
export function forwardFetch(
  router: RouterImpl,
  route: CompiledRoute,
  request: Request,
  url: URL,
  peer: FetchPeer,
): Promise<Response> {
  const incoming: HeaderMap = {};
  for (const [name, value] of request.headers) {
    const prior = incoming[name];
    incoming[name] =
      prior === undefined ? value : Array.isArray(prior) ? [...prior, value] : [prior, value];
  }
  const early = refusal(route, incoming);
  if (early !== undefined) return Promise.resolve(problemResponse(early));
  const path = upstreamPath(route, url.pathname + url.search);
  if (path === undefined) return Promise.resolve(problemResponse(problem('BAD_REQUEST_PATH')));
  const settings = router.settings;
  const headers = requestHeaders(
    incoming,
    {
      remoteAddress: peer.remoteAddress,
      proto: url.protocol === 'https:' ? 'https' : 'http',
      trusted: settings.trust(peer.remoteAddress),
    },
    settings.forwarded,
    route.preserveHost,
    route.requestRewrite,
    incoming.traceparent !== undefined && tracing(),
  );
  const length = incoming['content-length'];
  const limit = length === undefined ? route.maxRequestBodyBytes : Infinity;
  const exchange = new FetchExchange(route, request.method === 'HEAD');
  const body =
    !announcesBody(incoming) || request.body === null
      ? null
      : limit === Infinity
        ? request.body
        : limited(request.body, limit);
  // A client that goes away aborts the upstream request.
  request.signal.addEventListener('abort', exchange.onClientAbort, { once: true });
  try {
    route.dispatcher.dispatch(
      {
        origin: route.origin,
        path,
        method: request.method as Dispatcher.HttpMethod,
        headers: headers as Record<string, string | string[]>,
        // undici takes any (async) iterable of bytes; its types list only Node streams
        body: body as Dispatcher.DispatchOptions['body'],
        headersTimeout: route.headersTimeout,
        bodyTimeout: route.bodyTimeout,
      },
      exchange,
    );
  } catch (error) {
    exchange.onResponseError(null, error as Error);
  }
  return exchange.response;
}

/** The checks made before any upstream work; `undefined` when the request may go on. */
function refusal(route: CompiledRoute, incoming: HeaderMap): Problem | undefined {
  if (incoming.upgrade !== undefined) return problem('UPGRADE_NOT_SUPPORTED');
  if (route.rateLimiter !== undefined) {
    const waitMs = route.rateLimiter.tryAcquire();
    if (waitMs > 0) return problem('RATE_LIMITED', waitMs);
  }
  const length = incoming['content-length'];
  if (length !== undefined && Number(length) > route.maxRequestBodyBytes) {
    return problem('REQUEST_TOO_LARGE');
  }
  return undefined;
}

/** The body, failing (which aborts the upstream request) once it crosses `limit` bytes. */
async function* limited(
  body: ReadableStream<Uint8Array>,
  limit: number,
): AsyncGenerator<Uint8Array> {
  let seen = 0;
  for await (const chunk of body) {
    seen += chunk.byteLength;
    if (seen > limit) throw new ProxyAbort('request too large', 'REQUEST_TOO_LARGE');
    yield chunk;
  }
}

/** A problem as a fetch `Response`. */
export function problemResponse(p: Problem): Response {
  const headers: Record<string, string> = {
    'content-type': 'application/problem+json',
    'cache-control': 'no-store',
  };
  if (p.retryAfterSeconds !== undefined) headers['retry-after'] = String(p.retryAfterSeconds);
  if (p.close) headers.connection = 'close';
  return new Response(p.body, { status: p.status, headers });
}

/** Statuses whose `Response` cannot have a body. */
const NULL_BODY = new Set([101, 103, 204, 205, 304]);

/** The undici handler of one request: a `Response` whose body is fed by the upstream's. */
class FetchExchange implements Dispatcher.DispatchHandler {
  readonly response: Promise<Response>;
  readonly #route: CompiledRoute;
  readonly #head: boolean;
  #resolve!: (response: Response) => void;
  #controller: Controller | undefined = undefined;
  #stream: ReadableStreamDefaultController<Uint8Array> | undefined = undefined;
  #started = false;
  #done = false;
  #aborted = false;
  #sent = 0;

  constructor(route: CompiledRoute, head: boolean) {
    this.#route = route;
    this.#head = head;
    this.response = new Promise((resolve) => {
      this.#resolve = resolve;
    });
  }

  readonly onClientAbort = (): void => {
    if (this.#done) return;
    this.#aborted = true;
    this.#controller?.abort(new ProxyAbort('The client closed the connection.'));
  };

  onRequestStart(controller: Controller): void {
    this.#controller = controller;
    if (this.#aborted) controller.abort(new ProxyAbort('The client closed the connection.'));
  }

  onResponseStart(
    controller: Controller,
    statusCode: number,
    headers: Record<string, string | string[] | undefined>,
  ): void {
    this.#controller = controller;
    const limit = this.#route.maxResponseBodyBytes;
    const length = headers['content-length'];
    if (limit !== Infinity && length !== undefined && Number(length) > limit) {
      controller.abort(new ProxyAbort('response too large', 'RESPONSE_TOO_LARGE'));
      return;
    }
    const out = new Headers();
    const filtered = responseHeaders(headers, this.#route.responseRewrite);
    for (const name in filtered) {
      const value = filtered[name]!;
      if (typeof value === 'string') out.append(name, value);
      else for (const item of value) out.append(name, item);
    }
    this.#started = true;
    if (NULL_BODY.has(statusCode) || this.#head) {
      this.#resolve(new Response(null, { status: statusCode, headers: out }));
      return;
    }
    const body = new ReadableStream<Uint8Array>(
      {
        start: (stream) => {
          this.#stream = stream;
        },
        pull: () => {
          this.#controller?.resume();
        },
        cancel: () => {
          if (!this.#done)
            this.#controller?.abort(new ProxyAbort('The client cancelled the body.'));
        },
      },
      { highWaterMark: 0 },
    );
    this.#resolve(new Response(body, { status: statusCode, headers: out }));
  }

  onResponseData(controller: Controller, chunk: Buffer): void {
    const stream = this.#stream;
    // undici can hand over empty chunks once the socket is gone; pausing on one would spin
    if (stream === undefined || chunk.length === 0) return;
    const limit = this.#route.maxResponseBodyBytes;
    if (limit !== Infinity) {
      this.#sent += chunk.length;
      if (this.#sent > limit) {
        controller.abort(new ProxyAbort('response too large', 'RESPONSE_TOO_LARGE'));
        return;
      }
    }
    stream.enqueue(chunk);
    if ((stream.desiredSize ?? 0) <= 0) controller.pause();
  }

  onResponseEnd(): void {
    this.#done = true;
    try {
      this.#stream?.close();
    } catch {
      // cancelled by the client already
    }
  }

  onResponseError(_controller: Controller | null, error: Error): void {
    if (this.#done) return;
    this.#done = true;
    if (!this.#started) {
      this.#resolve(problemResponse(problemFor(error)));
      return;
    }
    // Mid-body: the body errors, so the server cuts the response (a truncated body, no hang).
    try {
      this.#stream?.error(error);
    } catch {
      // cancelled by the client already
    }
  }
}
