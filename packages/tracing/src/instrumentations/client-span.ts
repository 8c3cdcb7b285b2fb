import type { Span } from '@opentelemetry/api';
import { api } from '../api.ts';

/**
 * How a CLIENT span ends, for every client instrumentation (node:http and undici): the status is
 * recorded when the response headers arrive, and the span ends when the response body has been
 * received — or at the error that cut the request or the body short. That is where the OTel
 * http and undici instrumentations end it, so a span's duration covers the whole exchange.
 */

/** Records the response status on `span` (ERROR for 4xx/5xx); the span goes on until the body ends. */
export function recordStatus(span: Span, status: number): void {
  if (!span.isRecording()) return;
  span.setAttribute('http.response.status_code', status);
  if (status >= 400) {
    span.setAttribute('error.type', String(status));
    span.setStatus({ code: api().SpanStatusCode.ERROR });
  }
}

/** Ends `span` at a request or response-body error: the exception, `error.type` and ERROR. */
export function endAtError(span: Span, error: Error): void {
  if (span.isRecording()) {
    span.recordException(error);
    span.setAttribute('error.type', (error as { code?: string }).code ?? error.name);
    span.setStatus({ code: api().SpanStatusCode.ERROR, message: error.message });
  }
  span.end();
}
