import type { IncomingMessage, ServerResponse } from 'node:http';
import type { VerifyOptions } from './verifier.ts';

/** Where a request's credentials may be: its `Authorization` header values and its query string. */
export interface CredentialInput {
  /** Every `Authorization` header value the request carried (two headers give two entries). */
  readonly authorization: readonly string[];
  /** The raw query string without `?` (empty when none). */
  readonly query: string;
}

/** What a request presented: nothing, one bearer token, or something to answer 400 to. @internal */
export type Credentials =
  | { readonly kind: 'none' }
  | { readonly kind: 'token'; readonly token: string }
  | { readonly kind: 'invalid'; readonly description: string };

const NO_VALUES: string[] = [];
const NONE: Credentials = { kind: 'none' };
// RFC 6750 §2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;
const SCHEME = /^bearer(?: |$)/i;

/**
 * The token of a `Bearer <b64token>` header value; `undefined` for another scheme; `null` when the
 * scheme is Bearer but the value is malformed. Checks the scheme by character codes, so the hot
 * path runs one allocation-free regular-expression test.
 */
function bearerToken(header: string): string | undefined | null {
  // "bearer" case-insensitively: OR-ing 0x20 lowercases ASCII letters.
  if (
    header.length < 7 ||
    (header.charCodeAt(0) | 0x20) !== 0x62 ||
    (header.charCodeAt(1) | 0x20) !== 0x65 ||
    (header.charCodeAt(2) | 0x20) !== 0x61 ||
    (header.charCodeAt(3) | 0x20) !== 0x72 ||
    (header.charCodeAt(4) | 0x20) !== 0x65 ||
    (header.charCodeAt(5) | 0x20) !== 0x72 ||
    header.charCodeAt(6) !== 0x20
  ) {
    return SCHEME.test(header) ? null : undefined; // "Bearer" alone is malformed, "Basic x" is not ours
  }
  let start = 7;
  while (header.charCodeAt(start) === 0x20) start++;
  let end = header.length;
  while (end > start && header.charCodeAt(end - 1) === 0x20) end--;
  const token = start === 7 && end === header.length ? header.slice(7) : header.slice(start, end);
  return B64TOKEN.test(token) ? token : null;
}

/**
 * Finds the bearer token of a request (RFC 6750 §2). Refuses, as `invalid_request`: two
 * `Authorization` headers, a malformed `Bearer` value, a token in the query string unless
 * `allowQueryToken`, and a token sent both ways. Another scheme (e.g. `Basic`) counts as none.
 * @internal
 */
export function extractBearer(input: CredentialInput, allowQueryToken: boolean): Credentials {
  const { authorization, query } = input;
  if (authorization.length > 1) {
    return { kind: 'invalid', description: 'Send exactly one Authorization header' };
  }
  const header = authorization[0];
  let token = header === undefined ? undefined : bearerToken(header);
  if (token === null) return { kind: 'invalid', description: 'Malformed Bearer credentials' };
  if (query.includes('access_token')) {
    const fromQuery = new URLSearchParams(query).getAll('access_token');
    if (fromQuery.length > 0) {
      if (!allowQueryToken) {
        return {
          kind: 'invalid',
          description:
            'Access tokens in the query string are not accepted; use the Authorization header',
        };
      }
      if (fromQuery.length > 1 || token !== undefined) {
        return { kind: 'invalid', description: 'Send the access token in exactly one place' };
      }
      token = fromQuery[0];
      if (!token || !B64TOKEN.test(token)) {
        return { kind: 'invalid', description: 'Malformed access_token parameter' };
      }
    }
  }
  return token === undefined ? NONE : { kind: 'token', token };
}

/**
 * The credential input of a `node:http` request. Node keeps only the first of duplicated
 * `Authorization` headers in `req.headers`, so the raw header list is scanned. @internal
 */
export function nodeCredentials(req: IncomingMessage): CredentialInput {
  const raw = req.rawHeaders;
  let authorization: string[] = NO_VALUES;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length === 13 && name.toLowerCase() === 'authorization') {
      if (authorization === NO_VALUES) authorization = [];
      authorization.push(raw[i + 1]!);
    }
  }
  const url = req.url ?? '';
  const q = url.indexOf('?');
  return { authorization, query: q === -1 ? '' : url.slice(q + 1) };
}

/**
 * The credential input of a fetch `Request`. `Headers` joins repeated `Authorization` headers
 * with `, `, which the bearer syntax rejects, so duplicates still answer 400. @internal
 */
export function fetchCredentials(request: Request): CredentialInput {
  const header = request.headers.get('authorization');
  const q = request.url.indexOf('?');
  return {
    authorization: header === null ? NO_VALUES : [header],
    query: q === -1 ? '' : request.url.slice(q + 1),
  };
}

/**
 * Verify options for a `node:http` request whose `signal` is only created when read (on a cache
 * miss, before a JWKS fetch) and aborts when the client goes away before it was answered. @internal
 */
export function abortOnClose(res: ServerResponse): VerifyOptions {
  return new AbortOnClose(res);
}

/** A class rather than an object literal with a getter: cheaper to create on every request. */
class AbortOnClose implements VerifyOptions {
  readonly #res: ServerResponse;
  #controller: AbortController | undefined;

  constructor(res: ServerResponse) {
    this.#res = res;
  }

  get signal(): AbortSignal {
    if (this.#controller) return this.#controller.signal;
    const controller = new AbortController();
    this.#controller = controller;
    const res = this.#res;
    const onClose = () => {
      if (!res.writableFinished) controller.abort(new Error('the client closed the connection'));
    };
    if (res.destroyed) onClose();
    else res.once('close', onClose);
    return controller.signal;
  }
}
