import { randomUUID } from 'node:crypto';
import { type Span, SpanStatusCode } from '@opentelemetry/api';
import { type CryptoKey, decodeJwt, importJWK, type JWK, type KeyObject, SignJWT } from 'jose';
import { z } from 'zod';
import { type Clock, schedule, systemClock } from './clock.ts';
import { isTrustedUrl, metadataUrls } from './discovery.ts';
import { AuthError, DiscoveryError, TokenRequestError } from './errors.ts';
import {
  type ExchangeError,
  type ExchangeResult,
  exchange,
  type FetchLike,
} from './http-exchange.ts';
import { parseOptions } from './parse-options.ts';
import { ATTR, clientInstruments } from './telemetry.ts';
import type { GetTokenOptions, TokenSource } from './token-source.ts';

/** Signing key and algorithm for `private_key_jwt` client authentication (RFC 7523). */
export interface PrivateKeyJwtOptions {
  /** The client's private key: a CryptoKey, a KeyObject, or a private JWK. */
  key: CryptoKey | KeyObject | JWK;
  /** JWS algorithm of the assertion, e.g. `'ES256'`, `'RS256'`, `'EdDSA'`. */
  alg: string;
  /** `kid` header of the assertion, so the server can pick the key. */
  kid?: string;
  /** Lifetime of each assertion. Default 60 000. */
  expiresInMs?: number;
}

/** Options of {@link clientCredentials}. Give `tokenEndpoint` or `issuer`, and `clientSecret` or `privateKeyJwt`. */
export interface ClientCredentialsOptions {
  /** Token endpoint URL. */
  tokenEndpoint?: string;
  /** Issuer identifier; the token endpoint is read from its RFC 8414 / OIDC metadata on first use. */
  issuer?: string;
  /** The `client_id`. */
  clientId: string;
  /** Client secret (sent per `authMethod`). */
  clientSecret?: string;
  /** How the secret is sent: `'client_secret_basic'` (default) or `'client_secret_post'`. */
  authMethod?: 'client_secret_basic' | 'client_secret_post';
  /** Authenticate with a signed JWT assertion instead of a secret. */
  privateKeyJwt?: PrivateKeyJwtOptions;
  /** Scopes to ask for (a space-separated string or a list). */
  scope?: string | string[];
  /** `audience` parameter (Auth0, Okta and others). */
  audience?: string;
  /** RFC 8707 `resource` parameter. */
  resource?: string;
  /** Further form parameters for the token request. */
  extraParams?: Record<string, string>;
  /** Refresh this long before expiry (capped at half the token lifetime). Default 60 000. */
  refreshAheadMs?: number;
  /** Random extra fraction (0–1) of `refreshAheadMs` to refresh earlier, so instances spread out. Default 0.1. */
  jitter?: number;
  /** Retries on 5xx answers, network errors and timeouts (never on 4xx). */
  retry?: {
    /** Attempts in all, the first included. Default 3. */
    attempts?: number;
    /** Delay before the second attempt; doubles each time, with jitter (50–100 %). Default 200. */
    baseDelayMs?: number;
    /** Upper bound of one delay. Default 5 000. */
    maxDelayMs?: number;
  };
  /** Timeout of each attempt (request and body). Default 10 000. */
  timeoutMs?: number;
  /** Largest accepted response body. Default 65 536. */
  maxBodyBytes?: number;
  /** Allow `http:` endpoints other than loopback (the secret would travel in clear). Default false. */
  allowInsecureHttp?: boolean;
  /** Time and timers (e.g. a ManualClock in tests). Default: the system clock. */
  clock?: Clock;
  /** Random numbers in [0, 1) for jitter. Default `Math.random`. */
  random?: () => number;
  /** The fetch to use (e.g. undici's with a dispatcher). Default: global `fetch`. */
  fetch?: FetchLike;
}

/** A client-credentials token source, created by {@link clientCredentials}. */
export interface ClientCredentialsTokenSource extends TokenSource, AsyncDisposable {
  /**
   * Resolves to a valid access token: the cached one while it is fresh; the cached one plus a
   * background refresh once it is within `refreshAheadMs` of expiry; otherwise a new one.
   * Concurrent callers share one request. Rejects with `TokenRequestError`
   * (`TOKEN_REQUEST_FAILED`), `DiscoveryError` (`DISCOVERY_FAILED`) or, when `signal` aborts or
   * the source is closed, `AuthError` `ABORTED`.
   */
  getToken(options?: GetTokenOptions): Promise<string>;
  /** Drops the cached token (only if it is `token`, when given); the next call fetches a new one. */
  invalidate(token?: string): void;
  /** Cancels a running request and refuses further calls. */
  close(): Promise<void>;
}

const ms = z.number().int().min(0).max(2_147_483_647);

const optionsSchema = z
  .object({
    tokenEndpoint: z.url({ protocol: /^https?$/ }).optional(),
    issuer: z.url({ protocol: /^https?$/ }).optional(),
    clientId: z.string().min(1),
    clientSecret: z.string().min(1).optional(),
    authMethod: z
      .enum(['client_secret_basic', 'client_secret_post'])
      .default('client_secret_basic'),
    privateKeyJwt: z
      .object({
        key: z.custom<CryptoKey | KeyObject | JWK>(
          (v) => typeof v === 'object' && v !== null,
          'expected a CryptoKey, KeyObject or private JWK',
        ),
        alg: z
          .string()
          .regex(/^(RS|PS|ES)(256|384|512)$|^EdDSA$|^Ed25519$/, 'expected an asymmetric JWS alg'),
        kid: z.string().min(1).optional(),
        expiresInMs: ms.min(1_000).default(60_000),
      })
      .strict()
      .optional(),
    scope: z
      .union([z.string(), z.array(z.string().regex(/^\S+$/, 'a scope has no spaces'))])
      .optional(),
    audience: z.string().min(1).optional(),
    resource: z.url().optional(),
    extraParams: z.record(z.string(), z.string()).default({}),
    refreshAheadMs: ms.default(60_000),
    jitter: z.number().min(0).max(1).default(0.1),
    retry: z
      .object({
        attempts: z.number().int().min(1).max(10).default(3),
        baseDelayMs: ms.default(200),
        maxDelayMs: ms.default(5_000),
      })
      .strict()
      .default({ attempts: 3, baseDelayMs: 200, maxDelayMs: 5_000 }),
    timeoutMs: ms.min(1).default(10_000),
    maxBodyBytes: z
      .number()
      .int()
      .min(1_024)
      .max(16 * 1024 * 1024)
      .default(64 * 1024),
    allowInsecureHttp: z.boolean().default(false),
    clock: z
      .custom<Clock>(
        (v) => typeof (v as Clock | null)?.now === 'function',
        'expected an object with now()',
      )
      .default(systemClock),
    random: z
      .custom<() => number>((v) => typeof v === 'function', 'expected a function')
      .default(() => Math.random),
    fetch: z
      .custom<FetchLike>((v) => typeof v === 'function', 'expected a fetch function')
      .optional(),
  })
  .strict()
  .superRefine((o, ctx) => {
    if ((o.tokenEndpoint === undefined) === (o.issuer === undefined)) {
      ctx.addIssue({
        code: 'custom',
        path: ['tokenEndpoint'],
        message: 'give exactly one of tokenEndpoint or issuer',
      });
    }
    if ((o.clientSecret === undefined) === (o.privateKeyJwt === undefined)) {
      ctx.addIssue({
        code: 'custom',
        path: ['clientSecret'],
        message: 'give exactly one of clientSecret or privateKeyJwt',
      });
    }
    for (const name of ['tokenEndpoint', 'issuer'] as const) {
      const url = o[name];
      if (url !== undefined && !isTrustedUrl(url, o.allowInsecureHttp)) {
        ctx.addIssue({
          code: 'custom',
          path: [name],
          message:
            'use https (http is accepted for loopback only, unless allowInsecureHttp is true)',
        });
      }
    }
  });

type Options = z.output<typeof optionsSchema>;

interface CachedToken {
  readonly token: string;
  readonly expiresAt: number;
  refreshAt: number;
}

interface Flight {
  readonly promise: Promise<CachedToken>;
  readonly controller: AbortController;
  /** Callers waiting; when the last one aborts (and no background refresh holds it), the request is cancelled. */
  waiters: number;
  background: boolean;
}

const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
const TRANSIENT = new WeakSet<Error>();

/**
 * Creates a token source for the OAuth 2.0 client credentials grant (RFC 6749 §4.4): caches the
 * token, refreshes it ahead of expiry (with jitter, in the background), shares one request between
 * concurrent callers, retries 5xx answers, network errors and timeouts with exponential backoff,
 * and turns RFC 6749 error bodies into `TokenRequestError`s.
 *
 * @example
 * ```ts
 * const tokens = clientCredentials({ issuer: 'https://auth.example.com', clientId: 'orders', clientSecret: process.env.SECRET!, scope: 'stock:read' });
 * const token = await tokens.getToken();
 * ```
 */
export function clientCredentials(options: ClientCredentialsOptions): ClientCredentialsTokenSource {
  const opts: Options = parseOptions('clientCredentials', optionsSchema, options);
  const fetchImpl: FetchLike = opts.fetch ?? ((input, init) => fetch(input, init));
  const instruments = clientInstruments();
  const scope = Array.isArray(opts.scope) ? opts.scope.join(' ') : opts.scope;
  let tokenEndpoint = opts.tokenEndpoint;
  let signingKey: Promise<CryptoKey | KeyObject | Uint8Array> | undefined;
  let cached: CachedToken | undefined;
  let flight: Flight | undefined;
  let closed = false;

  function aborted(message: string, cause?: unknown): AuthError {
    return new AuthError('ABORTED', `clientCredentials: ${message}`, { cause });
  }

  async function getToken(getOptions: GetTokenOptions = {}): Promise<string> {
    const { signal } = getOptions;
    if (closed) throw aborted('the token source is closed; create a new one');
    if (signal?.aborted) throw aborted('getToken was aborted', signal.reason);
    const now = opts.clock.now();
    if (cached && now < cached.refreshAt) {
      instruments.tokenCache.add(1, { [ATTR.cache]: 'hit' });
      return cached.token;
    }
    if (cached && now < cached.expiresAt) {
      instruments.tokenCache.add(1, { [ATTR.cache]: 'refresh_ahead' });
      const current = cached;
      startFlight(true).promise.catch(() => {
        // Keep the still-valid token; try again after half of its remaining life.
        if (cached === current) {
          const left = current.expiresAt - opts.clock.now();
          current.refreshAt = opts.clock.now() + Math.max(0, left / 2);
        }
      });
      return current.token;
    }
    instruments.tokenCache.add(1, { [ATTR.cache]: 'miss' });
    return (await waitFor(startFlight(false), signal)).token;
  }

  function startFlight(background: boolean): Flight {
    if (flight) {
      if (background) flight.background = true;
      return flight;
    }
    const controller = new AbortController();
    const current: Flight = {
      controller,
      waiters: 0,
      background,
      promise: requestWithRetries(controller.signal).then((token) => {
        if (!closed) cached = token;
        return token;
      }),
    };
    flight = current;
    const clear = () => {
      if (flight === current) flight = undefined;
    };
    current.promise.then(clear, clear);
    return current;
  }

  function waitFor(current: Flight, signal: AbortSignal | undefined): Promise<CachedToken> {
    if (!signal) {
      current.waiters++;
      return current.promise;
    }
    current.waiters++;
    return new Promise<CachedToken>((resolve, reject) => {
      const onAbort = () => {
        current.waiters--;
        if (current.waiters === 0 && !current.background) current.controller.abort(signal.reason);
        reject(aborted('getToken was aborted', signal.reason));
      };
      signal.addEventListener('abort', onAbort, { once: true });
      current.promise.then(
        (token) => {
          signal.removeEventListener('abort', onAbort);
          resolve(token);
        },
        (error: unknown) => {
          signal.removeEventListener('abort', onAbort);
          reject(error);
        },
      );
    });
  }

  async function requestWithRetries(signal: AbortSignal): Promise<CachedToken> {
    const started = opts.clock.now();
    return instruments.tracer.startActiveSpan(
      'ballast.auth.client_credentials',
      { attributes: { [ATTR.clientId]: opts.clientId } },
      async (span: Span) => {
        let attempt = 0;
        try {
          for (;;) {
            attempt++;
            try {
              const token = await requestOnce(signal);
              span.setAttribute(ATTR.attempts, attempt);
              span.setAttribute(ATTR.outcome, 'success');
              record('success', started);
              return token;
            } catch (error) {
              if (signal.aborted) throw aborted('the token request was cancelled', signal.reason);
              const transient = error instanceof Error && TRANSIENT.has(error);
              if (!transient || attempt >= opts.retry.attempts) throw withAttempts(error, attempt);
              const delayMs = backoff(attempt);
              span.addEvent('retry', {
                [ATTR.attempts]: attempt,
                'ballast.auth.retry.delay_ms': delayMs,
                'ballast.auth.retry.reason': (error as Error).message,
              });
              await delay(delayMs, signal);
            }
          }
        } catch (error) {
          span.setAttribute(ATTR.attempts, attempt);
          span.setAttribute(ATTR.outcome, 'failure');
          const oauthError = error instanceof TokenRequestError ? error.error : undefined;
          if (oauthError) span.setAttribute(ATTR.oauthError, oauthError);
          if (error instanceof TokenRequestError && error.status !== undefined) {
            span.setAttribute('http.response.status_code', error.status);
          }
          span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error).message });
          record('failure', started, oauthError);
          throw error;
        } finally {
          span.end();
        }
      },
    );
  }

  function record(outcome: 'success' | 'failure', started: number, oauthError?: string): void {
    const attributes = {
      [ATTR.outcome]: outcome,
      [ATTR.clientId]: opts.clientId,
      ...(oauthError ? { [ATTR.oauthError]: oauthError } : {}),
    };
    instruments.tokenFetches.add(1, attributes);
    instruments.tokenFetchDuration.record(Math.max(0, opts.clock.now() - started), attributes);
  }

  function backoff(attempt: number): number {
    const ceiling = Math.min(opts.retry.maxDelayMs, opts.retry.baseDelayMs * 2 ** (attempt - 1));
    return Math.round(ceiling * (0.5 + 0.5 * opts.random()));
  }

  function delay(delayMs: number, signal: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        cancel();
        reject(aborted('the token request was cancelled', signal.reason));
      };
      const cancel = schedule(
        opts.clock,
        () => {
          signal.removeEventListener('abort', onAbort);
          resolve();
        },
        delayMs,
      );
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  async function requestOnce(signal: AbortSignal): Promise<CachedToken> {
    const endpoint = tokenEndpoint ?? (await discoverTokenEndpoint(signal));
    const params = new URLSearchParams({ grant_type: 'client_credentials' });
    if (scope) params.set('scope', scope);
    if (opts.audience) params.set('audience', opts.audience);
    if (opts.resource) params.set('resource', opts.resource);
    for (const [name, value] of Object.entries(opts.extraParams)) params.set(name, value);
    const headers: Record<string, string> = {
      'content-type': 'application/x-www-form-urlencoded',
      accept: 'application/json',
    };
    if (opts.privateKeyJwt) {
      params.set('client_id', opts.clientId);
      params.set('client_assertion_type', ASSERTION_TYPE);
      params.set('client_assertion', await assertion(endpoint));
    } else if (opts.authMethod === 'client_secret_post') {
      params.set('client_id', opts.clientId);
      params.set('client_secret', opts.clientSecret!);
    } else {
      const pair = `${formEncode(opts.clientId)}:${formEncode(opts.clientSecret!)}`;
      headers.authorization = `Basic ${Buffer.from(pair).toString('base64')}`;
    }
    const sentAt = opts.clock.now();
    let answer: ExchangeResult;
    try {
      answer = await exchange(
        endpoint,
        { method: 'POST', headers, body: params.toString() },
        { ...limits(), signal },
      );
    } catch (error) {
      throw exchangeFailure(error as ExchangeError, endpoint);
    }
    return parseAnswer(answer, endpoint, sentAt);
  }

  function limits() {
    return {
      fetch: fetchImpl,
      timeoutMs: opts.timeoutMs,
      maxBodyBytes: opts.maxBodyBytes,
      clock: opts.clock,
    };
  }

  function exchangeFailure(error: ExchangeError, endpoint: string): Error {
    if (error.kind === 'aborted') return error;
    const failure =
      error.kind === 'timeout'
        ? 'timeout'
        : error.kind === 'too_large'
          ? 'invalid_response'
          : 'network';
    const out = new TokenRequestError(
      `clientCredentials: the token request to ${endpoint} failed (${error.message}); check that the issuer is reachable`,
      { failure, cause: error },
    );
    if (failure !== 'invalid_response') TRANSIENT.add(out);
    return out;
  }

  function parseAnswer(answer: ExchangeResult, endpoint: string, sentAt: number): CachedToken {
    let body: Record<string, unknown> | undefined;
    try {
      const parsed: unknown = JSON.parse(answer.text);
      if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) {
        body = parsed as Record<string, unknown>;
      }
    } catch {
      body = undefined;
    }
    if (answer.status < 200 || answer.status > 299) {
      const error = typeof body?.error === 'string' ? body.error : undefined;
      const description =
        typeof body?.error_description === 'string' ? body.error_description : undefined;
      const uri = typeof body?.error_uri === 'string' ? body.error_uri : undefined;
      const out = new TokenRequestError(
        error
          ? `clientCredentials: ${endpoint} refused the token request with ${error}${description ? ` (${description})` : ''} [HTTP ${answer.status}]; ${hint(error)}`
          : `clientCredentials: ${endpoint} answered HTTP ${answer.status} without an OAuth error body; check the token endpoint URL`,
        {
          failure: error ? 'oauth_error' : 'http_status',
          status: answer.status,
          error,
          errorDescription: description,
          errorUri: uri,
        },
      );
      if (answer.status >= 500) TRANSIENT.add(out);
      throw out;
    }
    const accessToken = body?.access_token;
    const tokenType = body?.token_type;
    const expiresIn = Number(body?.expires_in);
    const invalid = (why: string) =>
      new TokenRequestError(
        `clientCredentials: ${endpoint} answered HTTP ${answer.status} but ${why}; check the token endpoint URL`,
        { failure: 'invalid_response', status: answer.status },
      );
    if (!body) throw invalid('not with a JSON object');
    if (typeof accessToken !== 'string' || accessToken === '' || /\s/.test(accessToken)) {
      throw invalid('without a usable access_token');
    }
    if (typeof tokenType !== 'string' || tokenType.toLowerCase() !== 'bearer') {
      throw invalid(`with token_type ${JSON.stringify(tokenType)}, not Bearer`);
    }
    if (body.expires_in !== undefined && !(Number.isFinite(expiresIn) && expiresIn > 0)) {
      throw invalid('with an expires_in that is not a positive number');
    }
    const lifetimeMs =
      body.expires_in === undefined ? lifetimeFromJwt(accessToken, sentAt) : expiresIn * 1000;
    const expiresAt = sentAt + lifetimeMs;
    const ahead = Math.min(opts.refreshAheadMs, lifetimeMs / 2);
    const refreshAt = Math.max(sentAt, expiresAt - ahead - ahead * opts.jitter * opts.random());
    return { token: accessToken, expiresAt, refreshAt };
  }

  async function discoverTokenEndpoint(signal: AbortSignal): Promise<string> {
    const issuer = opts.issuer!;
    const failures: string[] = [];
    for (const url of metadataUrls(issuer)) {
      let answer: ExchangeResult;
      try {
        answer = await exchange(
          url,
          { method: 'GET', headers: { accept: 'application/json' } },
          { ...limits(), signal },
        );
      } catch (error) {
        if ((error as ExchangeError).kind === 'aborted') throw error;
        failures.push((error as Error).message);
        continue;
      }
      let metadata: Record<string, unknown> | undefined;
      try {
        metadata =
          answer.status === 200 ? (JSON.parse(answer.text) as Record<string, unknown>) : undefined;
      } catch {
        metadata = undefined;
      }
      if (!metadata || typeof metadata !== 'object') {
        failures.push(
          `GET ${url} answered HTTP ${answer.status}${answer.status === 200 ? ' without JSON' : ''}`,
        );
        continue;
      }
      if (metadata.issuer !== issuer) {
        throw new DiscoveryError(
          `clientCredentials: the metadata at ${url} names issuer ${JSON.stringify(metadata.issuer)}, not ${JSON.stringify(issuer)}; set "issuer" to the exact issuer identifier`,
        );
      }
      const endpoint = metadata.token_endpoint;
      if (typeof endpoint !== 'string' || !isTrustedUrl(endpoint, opts.allowInsecureHttp)) {
        throw new DiscoveryError(
          `clientCredentials: the metadata at ${url} has no usable "token_endpoint" (https is required); set "tokenEndpoint" instead`,
        );
      }
      tokenEndpoint = endpoint;
      return endpoint;
    }
    const error = new DiscoveryError(
      `clientCredentials: could not read the metadata of issuer ${issuer} (${failures.join('; ')}); check "issuer" or set "tokenEndpoint"`,
    );
    TRANSIENT.add(error);
    throw error;
  }

  async function assertion(endpoint: string): Promise<string> {
    const jwt = opts.privateKeyJwt!;
    signingKey ??= isJwk(jwt.key) ? importJWK(jwt.key, jwt.alg) : Promise.resolve(jwt.key);
    const now = Math.floor(opts.clock.now() / 1000);
    try {
      return await new SignJWT({ jti: randomUUID() })
        .setProtectedHeader(jwt.kid ? { alg: jwt.alg, kid: jwt.kid } : { alg: jwt.alg })
        .setIssuer(opts.clientId)
        .setSubject(opts.clientId)
        .setAudience(opts.issuer ?? endpoint)
        .setIssuedAt(now)
        .setExpirationTime(now + Math.floor(jwt.expiresInMs / 1000))
        .sign(await signingKey);
    } catch (cause) {
      signingKey = undefined;
      throw new AuthError(
        'INVALID_OPTIONS',
        `clientCredentials: option "privateKeyJwt.key" cannot sign ${jwt.alg} (${(cause as Error).message}); pass the client's private key for that algorithm.`,
        { cause },
      );
    }
  }

  const source: ClientCredentialsTokenSource = {
    getToken,
    invalidate(token) {
      if (token === undefined || cached?.token === token) cached = undefined;
    },
    async close() {
      closed = true;
      cached = undefined;
      flight?.controller.abort(aborted('the token source was closed'));
    },
    [Symbol.asyncDispose]() {
      return source.close();
    },
  };
  return source;
}

function withAttempts(error: unknown, attempts: number): unknown {
  if (!(error instanceof TokenRequestError) || attempts === 1) return error;
  return new TokenRequestError(`${error.message} (after ${attempts} attempts)`, {
    failure: error.failure,
    status: error.status,
    error: error.error,
    errorDescription: error.errorDescription,
    errorUri: error.errorUri,
    attempts,
    cause: error.cause,
  });
}

/** Without `expires_in`, the lifetime a JWT access token states in `exp` (0 when it is opaque). */
function lifetimeFromJwt(token: string, now: number): number {
  try {
    const { exp } = decodeJwt(token);
    return typeof exp === 'number' ? Math.max(0, exp * 1000 - now) : 0;
  } catch {
    return 0;
  }
}

function hint(error: string): string {
  switch (error) {
    case 'invalid_client':
      return 'check clientId and clientSecret (or the private key) and the auth method the server expects';
    case 'invalid_scope':
      return 'ask only for scopes the client is registered for';
    case 'unauthorized_client':
      return 'allow the client_credentials grant for this client at the server';
    case 'invalid_target':
      return 'ask for an audience/resource the client may use';
    default:
      return 'see error_description';
  }
}

function formEncode(value: string): string {
  return encodeURIComponent(value).replace(/%20/g, '+');
}

function isJwk(key: object): key is JWK {
  return typeof (key as { kty?: unknown }).kty === 'string';
}
