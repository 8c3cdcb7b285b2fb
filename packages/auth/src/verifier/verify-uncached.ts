import type { Clock } from '@ballast/kernel';
import {
  compactVerify,
  type VerifyOptions as JoseVerifyOptions,
  type JWTHeaderParameters,
  type JWTPayload,
} from 'jose';
import { checkClaims, claimRules } from '../claims.ts';
import { AbortedError, ClosedError, isAuthError } from '../errors.ts';
import type { KeyRecord } from '../jwks.ts';
import type { Instruments, VerifierInstruments } from '../telemetry.ts';
import { Doorkeeper, type TokenCache } from '../token-cache.ts';
import type { VerifiedToken } from '../verifier.ts';
import type { ResolvedVerifierOptions } from '../verifier-options.ts';
import { toAuthError } from './jose-errors.ts';
import type { VerifierKeys } from './keys.ts';
import { recordOutcome, refuse, VALID_MISS } from './outcome.ts';
import { cacheUntil, verifiedToken } from './verified-token.ts';

/** A verified token in the verifier's cache. @internal */
export interface CacheEntry {
  readonly result: VerifiedToken;
  readonly expiresAt: number;
  /** The key that verified it; the entry is only valid while that key is still in the JWKS. */
  readonly record: KeyRecord | null;
}

/** What the uncached path reads of its verifier. @internal */
export interface VerifierParts {
  readonly options: ResolvedVerifierOptions;
  readonly clock: Clock;
  readonly telemetry: Instruments<VerifierInstruments>;
  readonly keys: VerifierKeys;
  readonly cache: TokenCache<CacheEntry>;
  /** True once the verifier is closed. */
  readonly closed: () => boolean;
}

/** The error of any call made after `close()`. @internal */
export const closedError = (): ClosedError =>
  new ClosedError('verify(): the verifier is closed; create a new one with createVerifier()');

/** The error of a call whose signal aborted it. @internal */
export const abortedError = (cause: unknown): AbortedError =>
  new AbortedError('verify() was aborted by its signal', { cause });

/**
 * The verification of a token that is not in the cache: signature and JOSE header by jose (with a
 * JWKS fetch if the key is not loaded), then the claims; the result is cached until it expires
 * (past the doorkeeper, when first uses are not admitted). It does the real work, so it gets a
 * span of its own, under which the fetch's spans nest. @internal
 */
export function uncachedVerification(
  parts: VerifierParts,
): (
  token: string,
  fingerprint: number,
  now: number,
  signal?: AbortSignal,
) => Promise<VerifiedToken> {
  const { options: o, telemetry, keys, cache } = parts;
  const doorkeeper = o.cache.admitFirstUse ? undefined : new Doorkeeper(o.cache.maxEntries);
  // jose checks the signature and the JOSE header (alg allow-list, crit); the claims are checked
  // here, with the same rules as jose's jwtVerify, which saves a second pass over the payload.
  const joseOptions: JoseVerifyOptions = { algorithms: o.algorithms };
  const rules = claimRules(o);
  const resolveKey = (h: JWTHeaderParameters) => keys.keyFor(h);

  return async (token, fingerprint, now, signal) => {
    const t = telemetry();
    const span = t?.tracer.startSpan('ballast.auth.verify');
    const resolver =
      signal === undefined ? resolveKey : (h: JWTHeaderParameters) => keys.keyFor(h, signal);
    let payload: JWTPayload;
    let header: JWTHeaderParameters;
    let key: unknown;
    try {
      // Without a tracing SDK the span does not record: skip building a context for it.
      const verified = await (t !== undefined && span?.isRecording()
        ? t.api.context.with(t.api.trace.setSpan(t.api.context.active(), span), () =>
            compactVerify(token, resolver, joseOptions),
          )
        : compactVerify(token, resolver, joseOptions));
      header = verified.protectedHeader as JWTHeaderParameters;
      key = verified.key;
      payload = checkClaims(header, verified.payload, rules, now);
    } catch (error) {
      const refusal = parts.closed()
        ? closedError()
        : signal?.aborted && !isAuthError(error)
          ? abortedError(error)
          : toAuthError(error);
      refuse(telemetry, refusal, span);
    }
    const result = verifiedToken(payload, header);
    const expiresAt = cacheUntil(payload, o.maxTokenAgeMs);
    if (
      expiresAt !== undefined &&
      expiresAt > now &&
      (doorkeeper?.admit(token, fingerprint) ?? true)
    ) {
      cache.set(
        token,
        { result, expiresAt, record: keys.keySet.recordOf(key) ?? null },
        fingerprint,
      );
    }
    recordOutcome(telemetry, VALID_MISS, header, span);
    span?.end();
    return result;
  };
}
