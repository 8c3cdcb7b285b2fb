/**
 * The one rule every Ballast interceptor uses to decide whether a request may be sent again
 * (retried, resent with a new token, or sent to another instance).
 */

const IDEMPOTENT_METHODS: ReadonlySet<string> = new Set([
  'GET',
  'HEAD',
  'OPTIONS',
  'PUT',
  'DELETE',
  'TRACE',
]);

/** Request headers in any of the shapes undici and fetch accept. */
export type HeadersLike =
  | Record<string, string | readonly string[] | undefined>
  | readonly string[]
  | Iterable<readonly [string, string]>
  | null
  | undefined;

/** A request as the rule sees it. */
export interface ReplayableRequestLike {
  /** The HTTP method, any case. */
  readonly method: string;
  /** The request headers. */
  readonly headers?: HeadersLike;
  /** The request body; a stream or async iterable cannot be sent twice. */
  readonly body?: unknown;
}

/**
 * True when sending the request twice cannot repeat a side effect: an idempotent method
 * (RFC 9110 §9.2.2: GET, HEAD, OPTIONS, PUT, DELETE, TRACE) or an `Idempotency-Key` header.
 */
export function isIdempotentRequest(method: string, headers?: HeadersLike): boolean {
  return IDEMPOTENT_METHODS.has(method.toUpperCase()) || hasHeader(headers, 'idempotency-key');
}

/** True when the body can be sent again as is: none, a string, or bytes (not a stream). */
export function isReplayableBody(body: unknown): boolean {
  return (
    body === undefined ||
    body === null ||
    typeof body === 'string' ||
    body instanceof Uint8Array ||
    body instanceof ArrayBuffer ||
    ArrayBuffer.isView(body)
  );
}

/** The request is idempotent and its body can be sent again. */
export function isReplayableRequest(request: ReplayableRequestLike): boolean {
  return isIdempotentRequest(request.method, request.headers) && isReplayableBody(request.body);
}

/** Whether `headers` has `name` (lower case), in any of undici's shapes. */
export function hasHeader(headers: HeadersLike, name: string): boolean {
  if (headers === null || headers === undefined) return false;
  if (Array.isArray(headers)) {
    for (let i = 0; i < headers.length; i += 2) {
      if (String(headers[i]).toLowerCase() === name) return true;
    }
    return false;
  }
  if (typeof (headers as Iterable<unknown>)[Symbol.iterator] === 'function') {
    for (const entry of headers as Iterable<readonly [string, string]>) {
      if (String(entry[0]).toLowerCase() === name) return true;
    }
    return false;
  }
  for (const key of Object.keys(headers)) {
    if (key.toLowerCase() === name && (headers as Record<string, unknown>)[key] !== undefined)
      return true;
  }
  return false;
}
