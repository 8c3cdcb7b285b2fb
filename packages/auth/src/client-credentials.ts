import { AssertionSigner } from './client-credentials/assertion.ts';
import {
  type CachedToken,
  cacheToken,
  postponeRefresh,
} from './client-credentials/cached-token.ts';
import {
  type ClientCredentialsOptions,
  resolveClientCredentialsOptions,
} from './client-credentials/options.ts';
import { AttemptsFailed, markTransient, withRetries } from './client-credentials/retry.ts';
import { SingleFlight } from './client-credentials/single-flight.ts';
import {
  type ClientAuthentication,
  requestToken,
  tokenForm,
} from './client-credentials/token-request.ts';
import { discoverTokenEndpoint, isUnreachableIssuer } from './discovery.ts';
import { AbortedError, ClosedError, isAuthError, TokenRequestError } from './errors.ts';
import type { ExchangeLimits, FetchLike } from './http-exchange.ts';
import { ATTR, type ClientInstruments, clientInstruments, type Span } from './telemetry.ts';
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
 * the single flight, the retry loop, the assertion signer, the request and the answer's reading.
 * The issuer's `token_endpoint` comes from the package's one discovery loop (`discovery.ts`).
 *
 * @example
 * ```ts
 * const tokens = clientCredentials({ issuer: 'https://auth.example.com', clientId: 'orders', clientSecret: process.env.SECRET!, scopes: ['stock:read'] });
 * const token = await tokens.getToken();
 * ```
 */
// Longer than ~80 lines on purpose: what is left here is the wiring of the parts in
// client-credentials/ around one token source's state (cached token, endpoint, closed), as short
// inner functions (endpoint, requestOnce, fetchToken, settle, getToken, close; none over ~40 lines).
export function clientCredentials(options: ClientCredentialsOptions): ClientCredentialsTokenSource {
  const opts = resolveClientCredentialsOptions(options);
  const fetchImpl: FetchLike = opts.fetch ?? ((input, init) => fetch(input, init));
  const telemetry = clientInstruments();
  const form = tokenForm(opts);
  const authentication: ClientAuthentication = opts.privateKeyJwt
    ? {
        kind: 'private_key_jwt',
        signer: new AssertionSigner(opts.privateKeyJwt, opts.clientId, opts.issuer, opts.clock),
      }
    : { kind: opts.authMethod, secret: opts.clientSecret! };
  const flights = new SingleFlight<CachedToken>();
  let tokenEndpoint = opts.tokenEndpoint;
  let cached: CachedToken | undefined;
  let closed = false;

  const closedError = (cause?: unknown) =>
    new ClosedError('clientCredentials: the token source is closed; create a new one', { cause });
  const abortedError = (cause: unknown) =>
    new AbortedError('clientCredentials: getToken() was aborted by its signal', { cause });

  const limits = (signal: AbortSignal): ExchangeLimits => ({
    fetch: fetchImpl,
    timeoutMs: opts.timeoutMs,
    maxBodyBytes: opts.maxBodyBytes,
    clock: opts.clock,
    signal,
  });

  async function endpoint(signal: AbortSignal): Promise<string> {
    if (tokenEndpoint !== undefined) return tokenEndpoint;
    try {
      tokenEndpoint = await discoverTokenEndpoint(opts.issuer!, {
        ...limits(signal),
        allowInsecureHttp: opts.allowInsecureHttp,
      });
    } catch (error) {
      throw isUnreachableIssuer(error) ? markTransient(error as Error) : error;
    }
    return tokenEndpoint;
  }

  async function requestOnce(signal: AbortSignal): Promise<CachedToken> {
    const url = await endpoint(signal);
    const { token, lifetimeMs, sentAt } = await requestToken(
      url,
      form,
      opts.clientId,
      authentication,
      limits(signal),
      () => opts.clock.now(),
    );
    return cacheToken(token, lifetimeMs, sentAt, opts);
  }

  /** One token request, retries included, with its span and metrics. */
  async function fetchToken(signal: AbortSignal): Promise<CachedToken> {
    const t = telemetry();
    const started = opts.clock.now();
    const span = t?.tracer.startSpan('ballast.auth.client_credentials', {
      attributes: { [ATTR.clientId]: opts.clientId },
    });
    try {
      const run = () =>
        withRetries((_attempt) => requestOnce(signal), {
          policy: opts.retry,
          clock: opts.clock,
          random: opts.random,
          signal,
          onRetry: (attempt, delayMs, error) =>
            span?.addEvent('retry', {
              [ATTR.attempts]: attempt,
              'ballast.auth.retry.delay_ms': delayMs,
              'ballast.auth.retry.reason': (error as Error).message,
            }),
        });
      const { value, attempts } = await (t !== undefined && span !== undefined
        ? t.api.context.with(t.api.trace.setSpan(t.api.context.active(), span), run)
        : run());
      span?.setAttributes({ [ATTR.attempts]: attempts, [ATTR.outcome]: 'success' });
      record(t, 'success', started);
      if (!closed) cached = value;
      return value;
    } catch (thrown) {
      const error = settle(thrown, signal);
      const attempts = thrown instanceof AttemptsFailed ? thrown.attempts : undefined;
      fail(t, span, error, attempts, started);
      throw error;
    } finally {
      span?.end();
    }
  }

  /** The error a failed request ends with: the source closed, the request cancelled, or the last attempt's. */
  function settle(thrown: unknown, signal: AbortSignal): unknown {
    if (closed) return isAuthError(signal.reason, 'CLOSED') ? signal.reason : closedError(thrown);
    if (signal.aborted) return abortedError(signal.reason);
    if (!(thrown instanceof AttemptsFailed)) return thrown;
    const error = thrown.cause;
    if (!(error instanceof TokenRequestError) || thrown.attempts === 1) return error;
    return new TokenRequestError(`${error.message} (after ${thrown.attempts} attempts)`, {
      failure: error.failure,
      status: error.status,
      error: error.error,
      errorDescription: error.errorDescription,
      errorUri: error.errorUri,
      attempts: thrown.attempts,
      cause: error.cause,
    });
  }

  function record(
    t: ClientInstruments | undefined,
    outcome: 'success' | 'failure',
    started: number,
    oauthError?: string,
  ): void {
    if (t === undefined) return;
    const attributes = {
      [ATTR.outcome]: outcome,
      [ATTR.clientId]: opts.clientId,
      ...(oauthError ? { [ATTR.oauthError]: oauthError } : {}),
    };
    t.tokenFetches.add(1, attributes);
    t.tokenFetchDuration.record(Math.max(0, opts.clock.now() - started), attributes);
  }

  function fail(
    t: ClientInstruments | undefined,
    span: Span | undefined,
    error: unknown,
    attempts: number | undefined,
    started: number,
  ): void {
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
    record(t, 'failure', started, oauthError);
  }

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
