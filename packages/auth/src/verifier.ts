import { type Clock, type Listener, type Subscription, systemClock } from '@ballast/kernel';
import type { JWTHeaderParameters, JWTPayload } from 'jose';
import { AbortedError, ClosedError, InvalidTokenError, isAuthError } from './errors.ts';
import type { JwksEvent, JwksStatus, RemoteKeySet } from './jwks.ts';
import { optionError } from './parse-options.ts';
import { verifierInstruments } from './telemetry.ts';
import { fingerprintOf, TokenCache } from './token-cache.ts';
import { verifierKeys } from './verifier/keys.ts';
import { recordOutcome, refuse, VALID_HIT } from './verifier/outcome.ts';
import {
  abortedError,
  type CacheEntry,
  closedError,
  uncachedVerification,
} from './verifier/verify-uncached.ts';
import { resolveVerifierOptions, type VerifierOptions } from './verifier-options.ts';

/** What a valid access token says, as `verify()` returns it and middleware attaches as `auth`. */
export interface VerifiedToken<C extends JWTPayload = JWTPayload> {
  /** The `sub` claim, when it is a string. */
  readonly subject: string | undefined;
  /** Granted scopes, from `scope` (space separated) or `scp` (array). */
  readonly scopes: readonly string[];
  /** Every claim of the token (frozen; shared between requests that present the same token). */
  readonly claims: Readonly<C>;
  /** The protected header (`alg`, `kid`, `typ`, ...). */
  readonly header: Readonly<JWTHeaderParameters>;
  /** When the token stops being accepted, in clock milliseconds (from `exp`). */
  readonly expiresAt: number | undefined;
}

/** Per-call options of {@link Verifier.verify}. */
export interface VerifyOptions {
  /** Abandons a JWKS or discovery fetch this call waits for (the call rejects with `ABORTED`). */
  readonly signal?: AbortSignal | undefined;
}

/** Options of {@link Verifier.refreshKeys}. */
export interface RefreshKeysOptions {
  /** Stops waiting for the fetch (it goes on for other callers); the call rejects with `ABORTED`. */
  readonly signal?: AbortSignal | undefined;
}

/** Health of a verifier: its key set and its verified-token cache. */
export interface VerifierStatus {
  /** The remote key set: state, URL, key count, fetch times and last error. */
  readonly jwks: JwksStatus;
  /** The verified-token cache: how many tokens it holds. */
  readonly cache: { readonly entries: number };
}

/** Verifies JWT access tokens against one issuer; see {@link createVerifier}. */
export interface Verifier {
  /**
   * Verifies a compact JWS access token and returns its claims. Throws `InvalidTokenError`
   * (`INVALID_TOKEN`, with a stable `reason`), `JwksUnavailableError` (`JWKS_UNAVAILABLE`),
   * `DiscoveryError` (`DISCOVERY_FAILED`), `AbortedError` (`ABORTED`) or, once the verifier is
   * closed, `ClosedError` (`CLOSED`).
   */
  verify(token: string, options?: VerifyOptions): Promise<VerifiedToken>;
  /** Fetches the issuer's keys now (e.g. at start-up, to fail fast); later fetches are automatic. */
  refreshKeys(options?: RefreshKeysOptions): Promise<void>;
  /** The key set's state (`fresh`, `stale`, `unavailable`, ...) and the cache size. */
  status(): VerifierStatus;
  /**
   * Subscribes to key-set events (`refreshed`, `refresh_failed`); returns a subscription. A
   * listener that throws does not stop verification; its error is rethrown on a microtask.
   */
  onJwksEvent(listener: Listener<JwksEvent>): Subscription;
  /**
   * Stops fetching, drops cached tokens and listeners; later `verify()` and `refreshKeys()` calls
   * reject with `ClosedError` (`CLOSED`). Idempotent.
   */
  close(): Promise<void>;
  /** Same as {@link Verifier.close}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * Creates a verifier for JWT access tokens (RFC 9068) from one issuer, following RFC 8725: an
 * explicit algorithm allow-list (asymmetric only unless a `secret` is given), `exp`, `iss` and
 * `aud` required, unknown `crit` headers refused, keys only from the configured or discovered
 * JWKS (never from `jku`, `x5u` or `jwk` headers). Keys are cached with single-flight refetch,
 * cooldown and a bounded stale window; verified tokens are cached until `exp` and dropped as
 * soon as their key leaves the JWKS or changes.
 *
 * The parts live in `verifier/`: where the keys come from (`keys.ts`), the uncached verification
 * (`verify-uncached.ts`), its outcome in telemetry (`outcome.ts`), the result
 * (`verified-token.ts`) and jose's errors (`jose-errors.ts`).
 *
 * @example
 * const verifier = createVerifier({
 *   issuer: 'https://auth.example.com/',
 *   audience: 'https://api.example.com',
 *   discovery: true,
 *   algorithms: ['RS256', 'ES256'],
 * });
 * const { subject, scopes } = await verifier.verify(token);
 */
export function createVerifier(options: VerifierOptions): Verifier {
  const o = resolveVerifierOptions(options);
  const clock: Clock = o.clock ?? systemClock;
  const telemetry = verifierInstruments();
  const keys = verifierKeys(o, clock, telemetry);
  const keySet = keys.keySet;
  const cache = new TokenCache<CacheEntry>(o.cache.maxEntries);
  let closed = false;
  const verifyUncached = uncachedVerification({
    options: o,
    clock,
    telemetry,
    keys,
    cache,
    closed: () => closed,
  });

  // The cache-hit path, the one the benchmarks hold to 11x fast-jwt: it reads the verifier's
  // state from this closure, with no object hop and no `this`.
  async function verify(token: string, call?: VerifyOptions): Promise<VerifiedToken> {
    if (closed) refuse(telemetry, closedError());
    if (typeof token !== 'string' || token.length === 0) {
      refuse(telemetry, new InvalidTokenError('malformed', 'the token must be a non-empty string'));
    }
    if (token.length > o.maxTokenBytes) {
      const message = `the token is longer than maxTokenBytes (${o.maxTokenBytes})`;
      refuse(telemetry, new InvalidTokenError('too_large', message));
    }
    const now = clock.now();
    const fingerprint = fingerprintOf(token);
    const hit = cache.get(token, fingerprint);
    if (hit !== undefined) {
      if (now < hit.expiresAt && (hit.record === null || keySet.isCurrent(hit.record, now))) {
        recordOutcome(telemetry, VALID_HIT, hit.result.header);
        return hit.result;
      }
      cache.delete(token, fingerprint);
    }
    const signal = call?.signal;
    if (signal?.aborted) refuse(telemetry, abortedError(signal.reason));
    return verifyUncached(token, fingerprint, now, signal);
  }

  const close = async (): Promise<void> => {
    closed = true;
    keySet.close();
    cache.clear();
  };
  return {
    verify,
    refreshKeys: (refreshOptions) => refreshKeys(keySet, closed, refreshOptions),
    status: () => ({ jwks: keySet.status(), cache: { entries: cache.size } }),
    onJwksEvent: (listener) => keySet.onEvent(listener),
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** `refreshKeys()`: fetches the key set now; a caller's abort stops its wait, not the fetch. */
async function refreshKeys(
  keySet: RemoteKeySet,
  closed: boolean,
  refreshOptions: RefreshKeysOptions = {},
): Promise<void> {
  if (closed) {
    throw new ClosedError(
      'refreshKeys(): the verifier is closed; create a new one with createVerifier()',
    );
  }
  if (refreshOptions instanceof AbortSignal) {
    throw optionError(
      'refreshKeys()',
      '(options)',
      refreshOptions,
      'must be an options object: pass { signal }, not the AbortSignal itself',
    );
  }
  const { signal } = refreshOptions;
  try {
    await keySet.refresh(signal);
  } catch (error) {
    if (signal?.aborted && !isAuthError(error)) {
      throw new AbortedError('refreshKeys() was aborted by its signal', { cause: error });
    }
    throw error;
  }
}
