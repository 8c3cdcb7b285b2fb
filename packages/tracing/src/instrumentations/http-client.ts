import type { ClientRequest, IncomingMessage } from 'node:http';
import type { Span, TextMapSetter } from '@opentelemetry/api';
import { api } from '../api.ts';
import type { Runtime, Uninstall } from '../runtime.ts';
import { subscribeAll } from './channels.ts';
import { endAtError, recordStatus } from './client-span.ts';
import { redactPath } from './url.ts';

const CLIENT_SPAN = Symbol.for('@ballast/tracing.client-span');

type TracedRequest = ClientRequest & { [CLIENT_SPAN]?: Span | undefined; protocol?: string };
type TracedResponse = IncomingMessage & { [CLIENT_SPAN]?: Span | undefined };

/** Response `'close'`: after `'end'` for a complete body, or when it was cut short or destroyed. */
function onResponseClose(this: TracedResponse): void {
  const span = this[CLIENT_SPAN];
  if (span === undefined) return;
  this[CLIENT_SPAN] = undefined;
  if (this.complete && this.errored == null) span.end();
  else {
    const error = this.errored ?? new Error('the response ended before its body was complete');
    if (this.errored == null) (error as { code?: string }).code = 'ECONNRESET';
    endAtError(span, error);
  }
}

const requestSetter: TextMapSetter<ClientRequest> = {
  set: (request, key, value) => request.setHeader(key, value),
};

/**
 * One CLIENT span per outgoing `node:http`/`https` request, from `http.client.request.created`
 * (headers not yet sent: `traceparent` and `baggage` are set there) to the end of the response body
 * (the response's `'close'` after a complete body), or an error: `http.client.request.error`, or a
 * body cut short (`'close'` before it was complete). The status is recorded when the headers
 * arrive (`http.client.response.finish`).
 */
export function instrumentHttpClient(rt: Runtime): Uninstall {
  const otel = api();
  const { tracer, propagator, contexts } = rt;
  const clientKind = { kind: otel.SpanKind.CLIENT };

  const onCreated = (message: unknown) => {
    const request = (message as { request: TracedRequest }).request;
    try {
      const active = contexts.active();
      const span = tracer.startSpan(request.method, clientKind, active);
      const context = span.spanContext();
      if (!otel.trace.isSpanContextValid(context)) return; // suppressed (an exporter's own request)
      if (span.isRecording()) {
        span.setAttribute('http.request.method', request.method);
        span.setAttribute('server.address', request.host);
        const authority = request.getHeader('host');
        const port = typeof authority === 'string' ? /:(\d+)$/.exec(authority)?.[1] : undefined;
        if (port !== undefined) span.setAttribute('server.port', Number(port));
        const host = typeof authority === 'string' ? authority : request.host;
        span.setAttribute(
          'url.full',
          `${request.protocol ?? 'http:'}//${host}${redactPath(request.path)}`,
        );
      }
      request[CLIENT_SPAN] = span;
      if (!request.headersSent)
        propagator.inject(otel.trace.setSpan(active, span), request, requestSetter);
    } catch (error) {
      rt.fault('http client start', error);
    }
  };

  const onResponse = (message: unknown) => {
    const { request, response } = message as { request: TracedRequest; response: IncomingMessage };
    const span = request[CLIENT_SPAN];
    if (span === undefined) return;
    request[CLIENT_SPAN] = undefined;
    recordStatus(span, response.statusCode ?? 0);
    // One shared listener (it reads the span from the response): no closure per request.
    (response as TracedResponse)[CLIENT_SPAN] = span;
    response.on('close', onResponseClose);
  };

  const onError = (message: unknown) => {
    const { request, error } = message as { request: TracedRequest; error: Error };
    const span = request[CLIENT_SPAN];
    if (span === undefined) return;
    request[CLIENT_SPAN] = undefined;
    endAtError(span, error);
  };

  return subscribeAll({
    'http.client.request.created': onCreated,
    'http.client.response.finish': onResponse,
    'http.client.request.error': onError,
  });
}
