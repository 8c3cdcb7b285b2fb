import { TokenRequestError } from '../errors.ts';
import { ATTR, type ClientInstruments, type Span } from '../telemetry.ts';

/** Counts one token fetch (retries included) and records how long it took. @internal */
export function recordFetch(
  t: ClientInstruments | undefined,
  clientId: string,
  outcome: 'success' | 'failure',
  durationMs: number,
  oauthError?: string,
): void {
  if (t === undefined) return;
  const attributes = {
    [ATTR.outcome]: outcome,
    [ATTR.clientId]: clientId,
    ...(oauthError ? { [ATTR.oauthError]: oauthError } : {}),
  };
  t.tokenFetches.add(1, attributes);
  t.tokenFetchDuration.record(Math.max(0, durationMs), attributes);
}

/** Marks a failed fetch on its span (attempts, OAuth error, HTTP status) and counts it. @internal */
export function recordFailedFetch(
  t: ClientInstruments | undefined,
  span: Span | undefined,
  clientId: string,
  failure: { error: unknown; attempts: number | undefined; durationMs: number },
): void {
  const { error, attempts } = failure;
  const oauthError = error instanceof TokenRequestError ? error.error : undefined;
  if (t !== undefined && span !== undefined) {
    span.setAttribute(ATTR.outcome, 'failure');
    if (attempts !== undefined) span.setAttribute(ATTR.attempts, attempts);
    if (oauthError) span.setAttribute(ATTR.oauthError, oauthError);
    if (error instanceof TokenRequestError && error.status !== undefined) {
      span.setAttribute('http.response.status_code', error.status);
    }
    span.setStatus({ code: t.api.SpanStatusCode.ERROR, message: (error as Error).message });
  }
  recordFetch(t, clientId, 'failure', failure.durationMs, oauthError);
}
