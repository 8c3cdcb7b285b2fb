// `@ballast/auth/undici`: an undici interceptor that sends `Authorization: Bearer` per origin.

import { o } from '@ballast/kernel';
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
   * new one and send an idempotent request (GET, HEAD, OPTIONS, PUT, DELETE) with a replayable body
   * once more. Default `true`.
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

const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE']);

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
      const retry =
        opts.retryOnInvalidToken &&
        IDEMPOTENT.has(dispatchOptions.method.toUpperCase()) &&
        isReplayable(dispatchOptions.body);
      const bearer = new BearerHandler(dispatch, dispatchOptions, handler, source, retry);
      bearer.start();
      return true;
    };
}

/** A controller handed to the caller's handler that follows the connection of the current attempt. */
class FollowingController implements Dispatcher.DispatchController {
  target: Dispatcher.DispatchController | null = null;
  abortReason: Error | null = null;
  #paused = false;

  get aborted(): boolean {
    return this.abortReason !== null || (this.target?.aborted ?? false);
  }
  get paused(): boolean {
    return this.#paused;
  }
  get reason(): Error | null {
    return this.abortReason ?? this.target?.reason ?? null;
  }
  get rawHeaders(): Dispatcher.DispatchController['rawHeaders'] {
    return this.target?.rawHeaders ?? null;
  }
  get rawTrailers(): Dispatcher.DispatchController['rawTrailers'] {
    return this.target?.rawTrailers ?? null;
  }
  follow(target: Dispatcher.DispatchController): void {
    this.target = target;
    if (this.#paused) target.pause();
  }
  abort(reason: Error): void {
    this.abortReason = reason;
    this.target?.abort(reason);
  }
  pause(): void {
    this.#paused = true;
    this.target?.pause();
  }
  resume(): void {
    this.#paused = false;
    this.target?.resume();
  }
}

/** Runs one request: fetches the token, dispatches, and on `invalid_token` refreshes and resends once. */
class BearerHandler implements Dispatcher.DispatchHandler {
  readonly #dispatch: Dispatcher.Dispatch;
  readonly #options: Dispatcher.DispatchOptions;
  readonly #handler: Dispatcher.DispatchHandler;
  readonly #source: TokenSource;
  #retry: boolean;
  readonly #controller = new FollowingController();
  #started = false;
  #token = '';
  #swallowing = false;

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
    this.#source.getToken().then(
      (token) => this.#send(token),
      (error: unknown) => this.#fail(error),
    );
  }

  #send(token: string): void {
    if (this.#controller.abortReason) {
      this.#fail(this.#controller.abortReason);
      return;
    }
    this.#token = token;
    try {
      this.#dispatch({ ...this.#options, headers: withBearer(this.#options.headers, token) }, this);
    } catch (error) {
      this.#fail(error);
    }
  }

  #fail(error: unknown): void {
    const reason = error instanceof Error ? error : new Error(String(error));
    this.#handler.onResponseError?.(this.#controller, reason);
  }

  onRequestStart(controller: Dispatcher.DispatchController, context: unknown): void {
    this.#controller.follow(controller);
    if (this.#controller.abortReason) controller.abort(this.#controller.abortReason);
    if (this.#started) return;
    this.#started = true;
    this.#handler.onRequestStart?.(this.#controller, context);
  }

  onRequestUpgrade(
    _controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: Parameters<NonNullable<Dispatcher.DispatchHandler['onRequestUpgrade']>>[2],
    socket: Parameters<NonNullable<Dispatcher.DispatchHandler['onRequestUpgrade']>>[3],
  ): void {
    this.#handler.onRequestUpgrade?.(this.#controller, statusCode, headers, socket);
  }

  onResponseStarted(): void {
    this.#handler.onResponseStarted?.();
  }

  onResponseStart(
    _controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: Parameters<NonNullable<Dispatcher.DispatchHandler['onResponseStart']>>[2],
    statusMessage?: string,
  ): void {
    if (this.#retry && statusCode === 401 && isInvalidTokenChallenge(headers['www-authenticate'])) {
      this.#retry = false;
      this.#swallowing = true;
      return;
    }
    this.#handler.onResponseStart?.(this.#controller, statusCode, headers, statusMessage);
  }

  onResponseData(_controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.#swallowing) return;
    this.#handler.onResponseData?.(this.#controller, chunk);
  }

  onResponseEnd(
    _controller: Dispatcher.DispatchController,
    trailers: Parameters<NonNullable<Dispatcher.DispatchHandler['onResponseEnd']>>[1],
  ): void {
    if (!this.#swallowing) {
      this.#handler.onResponseEnd?.(this.#controller, trailers);
      return;
    }
    this.#swallowing = false;
    recordBearerRetry(originOf(this.#options.origin) ?? '');
    this.#source.invalidate(this.#token);
    this.start();
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    this.#swallowing = false;
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

function isReplayable(body: Dispatcher.DispatchOptions['body']): boolean {
  return body == null || typeof body === 'string' || body instanceof Uint8Array;
}

/** True for a Bearer challenge carrying `error="invalid_token"` (RFC 6750 §3). */
function isInvalidTokenChallenge(header: string | string[] | undefined): boolean {
  if (header === undefined) return false;
  const value = Array.isArray(header) ? header.join(', ') : header;
  return /(?:^|[\s,])Bearer\b[\s\S]*?\berror\s*=\s*"?invalid_token"?/i.test(value);
}
