// `@ballast/auth/undici`: an undici interceptor that sends `Authorization: Bearer` per origin.

import { FollowingController, isReplayableRequest, o } from '@ballast/kernel';
import type { Dispatcher } from 'undici';
import { parseAuthOptions } from './parse-options.ts';
import { recordBearerRetry } from './telemetry.ts';
import type { TokenSource } from './token-source.ts';

export type { GetTokenOptions, TokenSource } from './token-source.ts';

/** Options of {@link bearerInterceptor}. */
export interface BearerInterceptorOptions {
  /**
   * Token source per origin: a record keyed by origin (`'https://stock.internal:8443'`; paths are
   * ignored) or a function of the request origin. Requests to other origins pass untouched.
   */
  tokens: Readonly<Record<string, TokenSource>> | ((origin: string) => TokenSource | undefined);
  /**
   * On `401` with `WWW-Authenticate: Bearer error="invalid_token"`, invalidate the token, fetch a
   * new one and send the request once more — if it is replayable by the kernel's rule (GET, HEAD,
   * OPTIONS, PUT, DELETE, TRACE, or an `Idempotency-Key` header; no streamed body). The 401's body
   * is not read: its connection is closed. Default `true`.
   */
  retryOnInvalidToken?: boolean | undefined;
}

const tokenSourceSchema = o.custom<TokenSource>(
  (v) =>
    typeof (v as TokenSource | null)?.getToken === 'function' &&
    typeof (v as TokenSource | null)?.invalidate === 'function',
  'a token source with getToken() and invalidate()',
);

const originKey = (key: string): boolean => {
  try {
    const url = new URL(key);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
};

const optionsSchema = o.object({
  tokens: o.union(
    o.fn<(origin: string) => TokenSource | undefined>(),
    o
      .record(tokenSourceSchema)
      .refine(
        (record) => Object.keys(record).every(originKey),
        'have http(s) origins as keys (e.g. "https://stock.internal:8443")',
      ),
  ),
  retryOnInvalidToken: o.boolean().default(true),
});

/**
 * Creates an undici interceptor that adds `Authorization: Bearer <token>` to requests for the
 * origins it knows (a request that already has an `Authorization` header is left alone), and,
 * when the server answers `401` with `error="invalid_token"`, refreshes the token once and
 * retries idempotent requests once.
 *
 * @example
 * ```ts
 * const agent = new Agent().compose(bearerInterceptor({ tokens: { 'https://stock.internal': tokens } }));
 * await fetch('https://stock.internal/items', { dispatcher: agent });
 * ```
 */
export function bearerInterceptor(
  options: BearerInterceptorOptions,
): Dispatcher.DispatcherComposeInterceptor {
  const opts = parseAuthOptions(optionsSchema, options, 'bearerInterceptor()');
  let lookup: (origin: string) => TokenSource | undefined;
  if (typeof opts.tokens === 'function') {
    lookup = opts.tokens;
  } else {
    const byOrigin = new Map<string, TokenSource>();
    for (const [key, source] of Object.entries(opts.tokens))
      byOrigin.set(new URL(key).origin, source);
    lookup = (origin) => byOrigin.get(origin);
  }

  return (dispatch) =>
    function bearerDispatch(dispatchOptions, handler) {
      const origin = originOf(dispatchOptions.origin);
      const source = origin === undefined ? undefined : lookup(origin);
      if (!source || hasAuthorization(dispatchOptions.headers)) {
        return dispatch(dispatchOptions, handler);
      }
      // The kernel's one rule: GET HEAD OPTIONS PUT DELETE TRACE or an Idempotency-Key header,
      // with a body that can be sent twice.
      const retry =
        opts.retryOnInvalidToken &&
        isReplayableRequest(dispatchOptions as Parameters<typeof isReplayableRequest>[0]);
      const bearer = new BearerHandler(dispatch, dispatchOptions, handler, source, retry);
      bearer.start();
      return true;
    };
}

/** Where one request is: waiting for its token, sent (an attempt runs or is queued), or settled. */
type Phase = 'token' | 'sent' | 'settled';

/**
 * Runs one request: fetches the token, dispatches, and on `invalid_token` refreshes and resends
 * once. The phases and what an abort does in each (the README's "Phases of an exchange" says the
 * same for users):
 * - token: the caller's handler already holds our controller, so its abort cancels `getToken`
 *   (through its signal) and the request fails at once with the caller's reason;
 * - queued / connecting / waiting for headers / reading the body: the abort reaches the attempt
 *   (undici takes a queued request out of its queue through the hook the caller's options carry);
 * - the resend: the `401 invalid_token` attempt is abandoned at its headers — its connection is
 *   closed, its body never read (a stalled 401 body cannot hold the request) — and its late
 *   callbacks are ignored; the resend is a fresh token phase and attempt.
 */
class BearerHandler implements Dispatcher.DispatchHandler {
  readonly #dispatch: Dispatcher.Dispatch;
  readonly #options: Dispatcher.DispatchOptions;
  readonly #handler: Dispatcher.DispatchHandler;
  readonly #source: TokenSource;
  /**
   * The kernel's controller that follows the current attempt: the caller's pause holds across
   * attempts; the caller's abort reaches the running attempt and, while the token is fetched,
   * cancels that wait.
   */
  readonly #controller: FollowingController<Dispatcher.DispatchController> =
    new FollowingController((reason) => {
      this.#controller.target?.abort(reason);
      this.#callerAborted(reason);
    });
  /** Attempts given up on (the 401 before a resend): their callbacks are ignored. */
  readonly #abandoned = new WeakSet<object>();
  #retry: boolean;
  #phase: Phase = 'token';
  #token = '';
  #tokenWait: AbortController | undefined;

  constructor(
    dispatch: Dispatcher.Dispatch,
    options: Dispatcher.DispatchOptions,
    handler: Dispatcher.DispatchHandler,
    source: TokenSource,
    retry: boolean,
  ) {
    this.#dispatch = dispatch;
    this.#options = options;
    this.#handler = handler;
    this.#source = source;
    this.#retry = retry;
  }

  start(): void {
    // The caller's handler gets its controller now, not when a connection exists, so that its
    // abort reaches the token fetch too.
    this.#handler.onRequestStart?.(this.#controller, {});
    if (this.#controller.reason !== null) return; // aborted synchronously: already failed
    this.#fetchToken();
  }

  #fetchToken(): void {
    this.#phase = 'token';
    const wait = new AbortController();
    this.#tokenWait = wait;
    this.#source.getToken({ signal: wait.signal }).then(
      (token) => {
        if (this.#tokenWait !== wait || this.#phase !== 'token') return;
        this.#tokenWait = undefined;
        this.#send(token);
      },
      (error: unknown) => {
        if (this.#tokenWait !== wait || this.#phase !== 'token') return;
        this.#tokenWait = undefined;
        this.#fail(error);
      },
    );
  }

  #send(token: string): void {
    this.#phase = 'sent';
    this.#token = token;
    try {
      this.#dispatch({ ...this.#options, headers: withBearer(this.#options.headers, token) }, this);
    } catch (error) {
      this.#fail(error);
    }
  }

  #callerAborted(reason: Error): void {
    if (this.#phase !== 'token') return; // an attempt runs or is queued: the abort reaches it
    this.#tokenWait?.abort(reason);
    this.#tokenWait = undefined;
    this.#fail(reason);
  }

  #fail(error: unknown): void {
    if (this.#phase === 'settled') return;
    this.#phase = 'settled';
    const reason = error instanceof Error ? error : new Error(String(error));
    this.#handler.onResponseError?.(this.#controller, reason);
  }

  #current(controller: Dispatcher.DispatchController | null | undefined): boolean {
    return !(controller != null && this.#abandoned.has(controller)) && this.#phase !== 'settled';
  }

  onRequestStart(controller: Dispatcher.DispatchController, _context: unknown): void {
    this.#controller.follow(controller);
    if (this.#controller.reason) controller.abort(this.#controller.reason);
  }

  onRequestUpgrade(
    controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: Parameters<NonNullable<Dispatcher.DispatchHandler['onRequestUpgrade']>>[2],
    socket: Parameters<NonNullable<Dispatcher.DispatchHandler['onRequestUpgrade']>>[3],
  ): void {
    if (!this.#current(controller)) return;
    this.#phase = 'settled';
    this.#handler.onRequestUpgrade?.(this.#controller, statusCode, headers, socket);
  }

  onResponseStarted(): void {
    this.#handler.onResponseStarted?.();
  }

  onResponseStart(
    controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: Parameters<NonNullable<Dispatcher.DispatchHandler['onResponseStart']>>[2],
    statusMessage?: string,
  ): void {
    if (!this.#current(controller)) return;
    if (this.#retry && statusCode === 401 && isInvalidTokenChallenge(headers['www-authenticate'])) {
      this.#resend(controller);
      return;
    }
    this.#handler.onResponseStart?.(this.#controller, statusCode, headers, statusMessage);
  }

  /** Gives up on the 401 attempt at its headers (closing its connection) and starts the resend. */
  #resend(rejected: Dispatcher.DispatchController): void {
    this.#retry = false;
    this.#abandoned.add(rejected);
    this.#controller.release();
    rejected.abort(new Error('bearerInterceptor: 401 invalid_token, resending with a new token'));
    recordBearerRetry(originOf(this.#options.origin) ?? '');
    this.#source.invalidate(this.#token);
    this.#fetchToken();
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (!this.#current(controller)) return;
    this.#handler.onResponseData?.(this.#controller, chunk);
  }

  onResponseEnd(
    controller: Dispatcher.DispatchController,
    trailers: Parameters<NonNullable<Dispatcher.DispatchHandler['onResponseEnd']>>[1],
  ): void {
    if (!this.#current(controller)) return;
    this.#phase = 'settled';
    this.#handler.onResponseEnd?.(this.#controller, trailers);
  }

  onResponseError(controller: Dispatcher.DispatchController | null, error: Error): void {
    if (!this.#current(controller)) return;
    this.#phase = 'settled';
    this.#handler.onResponseError?.(this.#controller, error);
  }

  onBodySent(chunk: Buffer): void {
    this.#handler.onBodySent?.(chunk);
  }

  onRequestSent(): void {
    this.#handler.onRequestSent?.();
  }
}

function originOf(origin: string | URL | undefined): string | undefined {
  if (origin === undefined) return undefined;
  try {
    return new URL(String(origin)).origin;
  } catch {
    return undefined;
  }
}

type HeaderValue = string | string[];

/** The request's headers as `[name, value]` pairs, whatever shape undici was given. */
function headerPairs(headers: Dispatcher.DispatchOptions['headers']): [string, HeaderValue][] {
  if (headers == null) return [];
  const pairs: [string, HeaderValue][] = [];
  if (Array.isArray(headers) && (headers.length === 0 || typeof headers[0] === 'string')) {
    const flat = headers as string[];
    for (let i = 0; i + 1 < flat.length; i += 2) pairs.push([flat[i]!, flat[i + 1]!]);
    return pairs;
  }
  const entries =
    Symbol.iterator in headers
      ? (headers as Iterable<[string, HeaderValue | undefined]>)
      : Object.entries(headers as Record<string, HeaderValue | number | undefined>);
  for (const [name, value] of entries) {
    if (value === undefined || value === null) continue;
    pairs.push([name, typeof value === 'number' ? String(value) : value]);
  }
  return pairs;
}

function hasAuthorization(headers: Dispatcher.DispatchOptions['headers']): boolean {
  return headerPairs(headers).some(([name]) => name.toLowerCase() === 'authorization');
}

function withBearer(
  headers: Dispatcher.DispatchOptions['headers'],
  token: string,
): Record<string, HeaderValue> {
  const out: Record<string, HeaderValue> = {};
  for (const [name, value] of headerPairs(headers)) {
    const existing = out[name];
    if (existing === undefined) out[name] = value;
    else out[name] = [...[existing].flat(), ...[value].flat()];
  }
  out.authorization = `Bearer ${token}`;
  return out;
}

/** True for a Bearer challenge carrying `error="invalid_token"` (RFC 6750 §3). */
function isInvalidTokenChallenge(header: string | string[] | undefined): boolean {
  if (header === undefined) return false;
  const value = Array.isArray(header) ? header.join(', ') : header;
  return /(?:^|[\s,])Bearer\b[\s\S]*?\berror\s*=\s*"?invalid_token"?/i.test(value);
}
