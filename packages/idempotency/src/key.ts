import { IdempotencyKeyInvalidError } from './errors.ts';

/** Longest key accepted, in characters (Stripe and most providers use 255). */
export const MAX_KEY_LENGTH = 255;

const BARE_KEY = /^[A-Za-z0-9][A-Za-z0-9._~:+/=-]*$/;
const SF_NUMBER = /^-?\d{1,15}(\.\d{1,3})?$/;

function invalid(header: string, why: string): IdempotencyKeyInvalidError {
  return new IdempotencyKeyInvalidError(
    `The ${header} header is invalid: ${why}. Send one key per request, either as a structured-field ` +
      `string ("...") of printable ASCII or as a bare token of letters, digits and ._~:+/=- (starting with a letter or digit), at most ` +
      `${MAX_KEY_LENGTH} characters (a UUID v4 is ideal).`,
  );
}

/**
 * Parses the value of an `Idempotency-Key` header as the IETF draft defines it (an RFC 9651
 * structured-field string, `"..."`) or as a bare token (what Stripe-style clients send).
 * Returns the key, or throws `IDEMPOTENCY_KEY_INVALID` for anything else: empty, longer than 255
 * characters, control or non-ASCII characters, other structured-field types (integers, lists,
 * byte sequences, booleans), parameters, or several keys (repeated headers arrive joined by commas).
 */
export function parseIdempotencyKey(value: string, header = 'Idempotency-Key'): string {
  if (isPlainBareKey(value)) return value;
  const text = value.trim();
  if (text.length === 0) throw invalid(header, 'it is empty');
  if (text.startsWith('"')) return parseSfString(text, header);
  if (text.length > MAX_KEY_LENGTH) {
    throw invalid(header, `it is longer than ${MAX_KEY_LENGTH} characters`);
  }
  if (SF_NUMBER.test(text)) throw invalid(header, 'it is a number, not a string');
  if (!BARE_KEY.test(text)) {
    throw invalid(
      header,
      'it contains characters that are not allowed in a bare key (or several keys)',
    );
  }
  return text;
}

// Characters of a bare key (`BARE_KEY`), by char code: 1 = letter or digit, 2 = the others.
const BARE = new Uint8Array(128);
for (let c = 0; c < 128; c++) {
  const ch = String.fromCharCode(c);
  if (/[A-Za-z0-9]/.test(ch)) BARE[c] = 1;
  else if ('._~:+/=-'.includes(ch)) BARE[c] = 2;
}

/**
 * The fast path of {@link parseIdempotencyKey} (a UUID, the usual key, takes one pass over its
 * characters and no allocation): true when `value` is accepted as it is — a bare key of at most
 * `MAX_KEY_LENGTH` characters, starting with a letter or digit, with nothing to trim, that is not
 * a structured-field number. Anything else takes the full path, which gives the error. Guarded by
 * the accept and reject cases of test/key.test.ts, which run through this path.
 */
function isPlainBareKey(value: string): boolean {
  const length = value.length;
  if (length === 0 || length > MAX_KEY_LENGTH) return false;
  const first = value.charCodeAt(0);
  if (first >= 128 || BARE[first] !== 1) return false;
  let numeric = true; // only digits and dots so far: may be a number, which is not a key
  for (let i = 1; i < length; i++) {
    const code = value.charCodeAt(i);
    if (code >= 128 || BARE[code] === 0) return false;
    if (numeric && !((code >= 0x30 && code <= 0x39) || code === 0x2e)) numeric = false;
  }
  return !(numeric && first >= 0x30 && first <= 0x39);
}

function parseSfString(text: string, header: string): string {
  let key = '';
  let i = 1;
  for (; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code === 0x22) break;
    if (code < 0x20 || code > 0x7e) {
      throw invalid(header, 'it contains a control or non-ASCII character');
    }
    if (code === 0x5c) {
      const next = text[++i];
      if (next !== '"' && next !== '\\') throw invalid(header, 'it contains a bad escape');
      key += next;
    } else {
      key += text[i];
    }
    if (key.length > MAX_KEY_LENGTH) {
      throw invalid(header, `it is longer than ${MAX_KEY_LENGTH} characters`);
    }
  }
  if (i >= text.length) throw invalid(header, 'the quoted string is not closed');
  if (i !== text.length - 1) {
    throw invalid(
      header,
      'it has text after the quoted string (a list, parameters or several keys)',
    );
  }
  if (key.length === 0) throw invalid(header, 'it is empty');
  return key;
}

// The parsed key of each request being handled, on the request object itself (the framework's
// request, the Koa context or the fetch Request) under a symbol of this module: cheaper than a
// WeakMap entry per request (no ephemeron for the garbage collector), and it goes with the request.
const KEY = Symbol('@ballast/idempotency.key');

/** Remembers the parsed key of `request` for {@link idempotencyKeyOf}. */
export function rememberKey(request: unknown, key: string): void {
  if (typeof request === 'object' && request !== null) {
    (request as { [KEY]?: string })[KEY] = key;
  }
}

/**
 * The idempotency key of a request the middleware handles, parsed (a structured-field string
 * comes without its quotes and escapes): pass Express's `req`, Fastify's `request`, Koa's `ctx`,
 * the `node:http` request, or the fetch `Request` (Hono: `c.req.raw`). `undefined` when the
 * request carried no valid key or is not covered.
 */
export function idempotencyKeyOf(request: object): string | undefined {
  return (request as { [KEY]?: string })[KEY];
}
