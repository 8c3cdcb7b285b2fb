import type { Span, TextMapSetter } from '@opentelemetry/api';
import { api } from '../api.ts';
import type { Runtime, Uninstall } from '../runtime.ts';
import { subscribeAll } from './channels.ts';
import { endAtError, recordStatus } from './client-span.ts';
import { redactPath } from './url.ts';

const CLIENT_SPAN = Symbol.for('@ballast/tracing.undici-span');

/** The fields of undici's internal `Request` that its `diagnostics_channel` messages carry. */
interface UndiciRequest {
  readonly method: string;
  readonly origin: string | URL;
  readonly path: string;
  addHeader(name: string, value: string): unknown;
  [CLIENT_SPAN]?: Span | undefined;
}

const undiciSetter: TextMapSetter<UndiciRequest> = {
  set: (request, key, value) => {
    request.addHeader(key, value);
  },
};

/**
 * One CLIENT span per undici request — which covers global `fetch` (Node's bundled undici) and an
 * installed `undici` alike, since both publish on the same channel names — from
 * `undici:request:create` (where `traceparent`/`baggage` are added) to the end of the response body
 * (`undici:request:trailers`, published when the response completes) or `undici:request:error`
 * (the request failed, or the body was cut short or aborted); the status is recorded at
 * `undici:request:headers`.
 */
export function instrumentUndici(rt: Runtime): Uninstall {
  const otel = api();
  const { tracer, propagator, contexts } = rt;
  const clientKind = { kind: otel.SpanKind.CLIENT };

  const onCreate = (message: unknown) => {
    const request = (message as { request: UndiciRequest }).request;
    try {
      const active = contexts.active();
      const span = tracer.startSpan(request.method, clientKind, active);
      if (!otel.trace.isSpanContextValid(span.spanContext())) return; // suppressed
      if (span.isRecording()) {
        const origin = typeof request.origin === 'string' ? request.origin : request.origin.origin;
        span.setAttribute('http.request.method', request.method);
        span.setAttribute('url.full', origin + redactPath(request.path));
        try {
          const url = new URL(origin);
          span.setAttribute('server.address', url.hostname);
          if (url.port !== '') span.setAttribute('server.port', Number(url.port));
        } catch {
          // an origin undici accepted but URL does not: leave the address out
        }
      }
      request[CLIENT_SPAN] = span;
      propagator.inject(otel.trace.setSpan(active, span), request, undiciSetter);
    } catch (error) {
      rt.fault('undici start', error);
    }
  };

  const onHeaders = (message: unknown) => {
    const { request, response } = message as {
      request: UndiciRequest;
      response: { statusCode: number };
    };
    const span = request[CLIENT_SPAN];
    if (span !== undefined) recordStatus(span, response.statusCode);
  };

  const onComplete = (message: unknown) => {
    const { request } = message as { request: UndiciRequest };
    const span = request[CLIENT_SPAN];
    if (span === undefined) return;
    request[CLIENT_SPAN] = undefined;
    span.end();
  };

  const onError = (message: unknown) => {
    const { request, error } = message as { request: UndiciRequest; error: Error };
    const span = request[CLIENT_SPAN];
    if (span === undefined) return;
    request[CLIENT_SPAN] = undefined;
    endAtError(span, error);
  };

  return subscribeAll({
    'undici:request:create': onCreate,
    'undici:request:headers': onHeaders,
    'undici:request:trailers': onComplete,
    'undici:request:error': onError,
  });
}
