import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Context, Span, TextMapGetter } from '@opentelemetry/api';
import { api } from '../api.ts';
import {
  ROUTE,
  type Runtime,
  SERVER_SPAN,
  type TracedResponse,
  type Uninstall,
} from '../runtime.ts';
import { subscribeAll } from './channels.ts';
import { redactQuery } from './url.ts';

interface StartMessage {
  request: IncomingMessage;
  response: ServerResponse & TracedResponse;
}

/** Reads propagation headers from Node's lower-cased header object. */
export const incomingGetter: TextMapGetter<IncomingMessage['headers']> = {
  keys: (headers) => Object.keys(headers),
  get: (headers, key) => headers[key],
};

/** Options of the server instrumentation that other switches feed. */
export interface HttpServerSettings {
  /** Read `req.route` (Express) when the response finishes. */
  readonly express: boolean;
  /** Paths whose requests get no span and run with tracing suppressed (health probes). */
  readonly ignorePaths: ReadonlySet<string>;
}

/** OpenTelemetry's suppression key (`suppressTracing()` of `@opentelemetry/core`; a `Symbol.for`). */
const SUPPRESS_TRACING = 'OpenTelemetry SDK Context Key SUPPRESS_TRACING';

/**
 * One SERVER span per incoming `node:http` request, from `http.server.request.start` to
 * `http.server.response.finish` — or, when the client disconnects first, to the response's
 * `'close'`, as an error without a status code. The order of work keeps unsampled requests cheap: the parent is
 * extracted only when a `traceparent`/`baggage` header is present (a new root is decided by the
 * sampler before the SDK's tracer is called: `Runtime.startRoot`), the span is started with no
 * attributes (the sampler decides on the parent and the trace id alone), and attributes are built
 * only for a span that records. The span's context is entered for the handler's whole async run.
 */
export function instrumentHttpServer(rt: Runtime, settings: HttpServerSettings): Uninstall {
  const otel = api();
  const { tracer, propagator, contexts } = rt;
  const root = contexts.root;
  const serverKind = { kind: otel.SpanKind.SERVER };
  const { ignorePaths } = settings;
  const untraced = root.setValue(otel.createContextKey(SUPPRESS_TRACING), true);

  const onStart = (message: unknown) => {
    const { request, response } = message as StartMessage;
    try {
      if (ignorePaths.size > 0 && ignorePaths.has(pathOf(request.url))) {
        contexts.enter(untraced);
        return;
      }
      const name = request.method ?? 'HTTP';
      let parent: Context = root;
      let span: Span;
      if (carriesTraceContext(request.rawHeaders)) {
        parent = propagator.extract(root, request.headers, incomingGetter);
        span = tracer.startSpan(name, serverKind, parent);
      } else span = rt.startRoot(name, serverKind); // no trace context came in: a root
      response[SERVER_SPAN] = span;
      if (span.isRecording()) {
        describeRequest(span, request);
        response.on('close', onClose);
      }
      contexts.enter(otel.trace.setSpan(parent, span));
    } catch (error) {
      rt.fault('http server start', error);
    }
  };

  /** `http.route` and the span name `METHOD route`, when a framework matched a route. */
  const nameByRoute = (span: Span, request: IncomingMessage, response: TracedResponse) => {
    const route = response[ROUTE] ?? (settings.express ? expressRoute(request) : undefined);
    if (route === undefined) return;
    span.setAttribute('http.route', route);
    span.updateName(`${request.method} ${route}`);
  };

  const onFinish = (message: unknown) => {
    const { request, response } = message as StartMessage;
    const span = response[SERVER_SPAN];
    if (span === undefined) return;
    response[SERVER_SPAN] = undefined;
    try {
      if (span.isRecording()) {
        const status = response.statusCode;
        span.setAttribute('http.response.status_code', status);
        if (status >= 500) {
          span.setAttribute('error.type', String(status));
          span.setStatus({ code: otel.SpanStatusCode.ERROR });
        }
        nameByRoute(span, request, response);
      }
      span.end();
    } catch (error) {
      rt.fault('http server finish', error);
    }
  };

  // The response's 'close' before Node published its finish: the client went away before the
  // response was sent. One shared listener (the span is read from the response), no closure.
  function onClose(this: ServerResponse & TracedResponse) {
    const span = this[SERVER_SPAN];
    if (span === undefined) return;
    this[SERVER_SPAN] = undefined;
    try {
      span.setAttribute('error.type', 'ECONNRESET');
      span.setStatus({
        code: otel.SpanStatusCode.ERROR,
        message: 'the client closed the connection before the response was sent',
      });
      nameByRoute(span, this.req, this);
      span.end();
    } catch (error) {
      rt.fault('http server close', error);
    }
  }

  return subscribeAll({
    'http.server.request.start': onStart,
    'http.server.response.finish': onFinish,
  });
}

/**
 * Whether a `traceparent` or `baggage` header came in, read from `rawHeaders` (names as sent, any
 * case): Node builds `request.headers` on first access, and an unsampled request without trace
 * context should not pay for that on tracing's account (a sampled one reads `host` and
 * `user-agent` from it; an application that reads its headers pays it once, as it would
 * untraced). Only names of those two lengths are lower-cased.
 * Tested in sampling.test.ts (a mixed-case `TraceParent` is followed).
 */
function carriesTraceContext(raw: readonly string[]): boolean {
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    if (
      name.length === 11
        ? name.toLowerCase() === 'traceparent'
        : name.length === 7 && name.toLowerCase() === 'baggage'
    )
      return true;
  }
  return false;
}

function pathOf(url: string | undefined): string {
  if (url === undefined) return '/';
  const query = url.indexOf('?');
  return query === -1 ? url : url.slice(0, query);
}

function describeRequest(span: Span, request: IncomingMessage): void {
  const url = request.url ?? '/';
  const query = url.indexOf('?');
  const host = request.headers.host;
  const encrypted = (request.socket as { encrypted?: boolean } | null)?.encrypted === true;
  span.setAttribute('http.request.method', request.method ?? '_OTHER');
  span.setAttribute('url.path', query === -1 ? url : url.slice(0, query));
  if (query !== -1 && query < url.length - 1)
    span.setAttribute('url.query', redactQuery(url.slice(query + 1)));
  span.setAttribute('url.scheme', encrypted ? 'https' : 'http');
  if (host !== undefined) {
    const colon = host.lastIndexOf(':');
    const bracket = host.lastIndexOf(']');
    if (colon > bracket) {
      span.setAttribute('server.address', host.slice(0, colon));
      span.setAttribute('server.port', Number(host.slice(colon + 1)));
    } else span.setAttribute('server.address', host);
  }
  const agent = request.headers['user-agent'];
  if (agent !== undefined) span.setAttribute('user_agent.original', agent);
  const peer = request.socket?.remoteAddress;
  if (peer !== undefined) span.setAttribute('network.peer.address', peer);
}

/** Express (4 and 5) leaves the matched route on `req.route` and the mount path in `req.baseUrl`. */
function expressRoute(request: IncomingMessage): string | undefined {
  const route = (request as { route?: { path?: unknown } }).route;
  if (route === undefined || typeof route.path !== 'string') return undefined;
  const base = (request as { baseUrl?: unknown }).baseUrl;
  return typeof base === 'string' ? base + route.path : route.path;
}
