import type { JWTHeaderParameters } from 'jose';
import { type AuthError, InvalidTokenError } from '../errors.ts';
import { ATTR, type Instruments, type Span, type VerifierInstruments } from '../telemetry.ts';

/** The attributes of a valid token served from the cache, and of one verified now. @internal */
export const VALID_HIT = { [ATTR.outcome]: 'valid', [ATTR.cache]: 'hit' };
/** @internal */
export const VALID_MISS = { [ATTR.outcome]: 'valid', [ATTR.cache]: 'miss' };

/**
 * Counts a verification's outcome and sets it on the caller's active span (and the miss span, if
 * any). Without OpenTelemetry (not installed, or no SDK registered) it does nothing. @internal
 */
export function recordOutcome(
  telemetry: Instruments<VerifierInstruments>,
  attributes: Record<string, string>,
  header?: JWTHeaderParameters,
  span?: Span,
): void {
  const t = telemetry();
  if (t === undefined) return;
  t.verifications.add(1, attributes);
  const active = t.api.trace.getActiveSpan();
  if (active) describeOnSpan(active, attributes, header);
  if (span) describeOnSpan(span, attributes, header);
}

/** Records a refusal (an invalid token, or an error on the way), ends the miss span, throws. @internal */
export function refuse(
  telemetry: Instruments<VerifierInstruments>,
  error: AuthError,
  span?: Span,
): never {
  const reason = error instanceof InvalidTokenError ? error.reason : error.code;
  const outcome = error.code === 'INVALID_TOKEN' ? 'invalid' : 'error';
  recordOutcome(
    telemetry,
    { [ATTR.outcome]: outcome, [ATTR.reason]: reason, [ATTR.cache]: 'miss' },
    undefined,
    span,
  );
  const t = span && telemetry();
  if (span && t) {
    if (outcome === 'error')
      span.setStatus({ code: t.api.SpanStatusCode.ERROR, message: error.code });
    span.end();
  }
  throw error;
}

function describeOnSpan(
  span: Span,
  attributes: Record<string, string>,
  header?: JWTHeaderParameters,
): void {
  if (!span.isRecording()) return; // without a tracing SDK: nothing to build
  span.setAttributes(attributes);
  if (header?.alg) span.setAttribute(ATTR.alg, header.alg);
  if (typeof header?.kid === 'string') span.setAttribute(ATTR.kid, header.kid.slice(0, 128));
}
