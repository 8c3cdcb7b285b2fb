import type { Span } from '@opentelemetry/api';
import { api } from '../api.ts';

/**
 * How a CLIENT span ends, for every client instrumentation (node:http and undici): at the response
 * headers with their status, or at the request's error.
 */

/** Ends `span` at a response: its status code, and ERROR for 4xx/5xx. */
export function endAtStatus(span: Span, status: number): void {
  if (span.isRecording()) {
    span.setAttribute('http.response.status_code', status);
    if (status >= 400) span.setStatus({ code: api().SpanStatusCode.ERROR });
  }
  span.end();
}

/** Ends `span` at a request error: the exception, `error.type` and ERROR. */
export function endAtError(span: Span, error: Error): void {
  if (span.isRecording()) {
    span.recordException(error);
    span.setAttribute('error.type', (error as { code?: string }).code ?? error.name);
    span.setStatus({ code: api().SpanStatusCode.ERROR, message: error.message });
  }
  span.end();
}
