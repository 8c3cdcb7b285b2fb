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

// The parsed key of each request being handled, by request object (the framework's request, the
// Koa context or the fetch Request); entries go with the request.
const keys = new WeakMap<object, string>();

/** Remembers the parsed key of `request` for {@link idempotencyKeyOf}. */
export function rememberKey(request: unknown, key: string): void {
  if (typeof request === 'object' && request !== null) keys.set(request, key);
}

/**
 * The idempotency key of a request the middleware handles, parsed (a structured-field string
 * comes without its quotes and escapes): pass Express's `req`, Fastify's `request`, Koa's `ctx`,
 * the `node:http` request, or the fetch `Request` (Hono: `c.req.raw`). `undefined` when the
 * request carried no valid key or is not covered.
 */
export function idempotencyKeyOf(request: object): string | undefined {
  return keys.get(request);
}
