import { type CachedToken, postponeRefresh } from './client-credentials/cached-token.ts';
import { tokenFetcher } from './client-credentials/fetch-token.ts';
import {
  type ClientCredentialsOptions,
  resolveClientCredentialsOptions,
} from './client-credentials/options.ts';
import { AttemptsFailed } from './client-credentials/retry.ts';
import { SingleFlight } from './client-credentials/single-flight.ts';
import { AbortedError, ClosedError, isAuthError } from './errors.ts';
import { ATTR, clientInstruments } from './telemetry.ts';
import type { GetTokenOptions, TokenSource } from './token-source.ts';

export type {
  ClientCredentialsOptions,
  PrivateKeyJwtOptions,
  TokenRetryOptions,
} from './client-credentials/options.ts';

/** A client-credentials token source, created by {@link clientCredentials}. */
export interface ClientCredentialsTokenSource extends TokenSource, AsyncDisposable {
  /**
   * Resolves to a valid access token: the cached one while it is fresh; the cached one plus a
   * background refresh once it is within `refreshAheadMs` of expiry; otherwise a new one.
   * Concurrent callers share one request. Rejects with `TokenRequestError`
   * (`TOKEN_REQUEST_FAILED`), `DiscoveryError` (`DISCOVERY_FAILED`), `AbortedError` (`ABORTED`)
   * when `signal` aborts, or `ClosedError` (`CLOSED`) once the source is closed.
   */
  getToken(options?: GetTokenOptions): Promise<string>;
  /** Drops the cached token (only if it is `token`, when given); the next call fetches a new one. */
  invalidate(token?: string): void;
  /** Cancels a running request (its callers get `CLOSED`) and refuses further calls. Idempotent. */
  close(): Promise<void>;
}

/**
 * Creates a token source for the OAuth 2.0 client credentials grant (RFC 6749 §4.4): caches the
 * token, refreshes it ahead of expiry (with jitter, in the background), shares one request between
 * concurrent callers, retries 5xx answers, network errors and timeouts with exponential backoff,
 * and turns RFC 6749 error bodies into `TokenRequestError`s.
 *
 * The pieces live in `client-credentials/`: the options, the cached token and its refresh time,
 * the single flight, one fetch with its span and metrics (`fetch-token.ts`, `fetch-telemetry.ts`),
 * the retry loop, the assertion signer, the request and the answer's reading. The issuer's
 * `token_endpoint` (`endpoint.ts`) comes from the package's one discovery loop (`discovery.ts`).
 *
 * @example
 * ```ts
 * const tokens = clientCredentials({ issuer: 'https://auth.example.com', clientId: 'orders', clientSecret: process.env.SECRET!, scopes: ['stock:read'] });
 * const token = await tokens.getToken();
 * ```
 */
export function clientCredentials(options: ClientCredentialsOptions): ClientCredentialsTokenSource {
  const opts = resolveClientCredentialsOptions(options);
  const telemetry = clientInstruments();
  const flights = new SingleFlight<CachedToken>();
  let cached: CachedToken | undefined;
  let closed = false;

  const closedError = (cause?: unknown) =>
    new ClosedError('clientCredentials: the token source is closed; create a new one', { cause });
  const abortedError = (cause: unknown) =>
    new AbortedError('clientCredentials: getToken() was aborted by its signal', { cause });

  /** The error a failed fetch ends with: the source closed, the request cancelled, or the last attempt's. */
  function settle(thrown: unknown, signal: AbortSignal): unknown {
    if (closed) return isAuthError(signal.reason, 'CLOSED') ? signal.reason : closedError(thrown);
    if (signal.aborted) return abortedError(signal.reason);
    return thrown instanceof AttemptsFailed ? thrown.lastError() : thrown;
  }
  const fetchOnce = tokenFetcher(opts, telemetry, settle);
  const fetchToken = async (signal: AbortSignal): Promise<CachedToken> => {
    const value = await fetchOnce(signal);
    if (!closed) cached = value;
    return value;
  };

  async function getToken(getOptions: GetTokenOptions = {}): Promise<string> {
    const { signal } = getOptions;
    if (closed) throw closedError();
    if (signal?.aborted) throw abortedError(signal.reason);
    const now = opts.clock.now();
    const t = telemetry();
    if (cached && now < cached.refreshAt) {
      t?.tokenCache.add(1, { [ATTR.cache]: 'hit' });
      return cached.token;
    }
    if (cached && now < cached.expiresAt) {
      t?.tokenCache.add(1, { [ATTR.cache]: 'refresh_ahead' });
      const current = cached;
      flights.join(fetchToken, true).promise.catch(() => {
        if (cached === current) postponeRefresh(current, opts.clock.now());
      });
      return current.token;
    }
    t?.tokenCache.add(1, { [ATTR.cache]: 'miss' });
    const flight = flights.join(fetchToken, false);
    return (await flights.wait(flight, signal, abortedError)).token;
  }

  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    cached = undefined;
    flights.abort(closedError());
  };
  return {
    getToken,
    invalidate(token) {
      if (token === undefined || cached?.token === token) cached = undefined;
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}
