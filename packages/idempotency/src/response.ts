import { createRequire } from 'node:module';

let isUtf8: ((input: Uint8Array) => boolean) | undefined;

/**
 * `buffer.isUtf8`, from `node:buffer` required on first use: the package's import list stays as
 * test/install.test.ts pins it (nothing but the kernel and node:module at import time).
 */
function validUtf8(bytes: Uint8Array): boolean {
  if (isUtf8 === undefined) {
    const base = typeof __filename === 'string' ? __filename : import.meta.url;
    isUtf8 = (createRequire(base)('node:buffer') as typeof import('node:buffer')).isUtf8;
  }
  return isUtf8(bytes);
}

/** A response as it is stored and replayed. */
export interface StoredResponse {
  readonly status: number;
  /** Selected headers, lower-case names, in the order they were sent. */
  readonly headers: ReadonlyArray<readonly [string, string]>;
  readonly body: Uint8Array;
}

/** Header pairs as the frameworks hand them out (`res.getHeaders()` entries, `Headers`, …). */
export type HeaderEntries = Iterable<
  readonly [string, string | number | readonly string[] | undefined]
>;

/** Keeps the headers named in `names` (lower-case), joining multi-valued ones with `, `. */
export function pickHeaders(
  entries: HeaderEntries,
  names: ReadonlySet<string>,
): [string, string][] {
  const picked: [string, string][] = [];
  for (const [name, value] of entries) {
    const lower = name.toLowerCase();
    if (value === undefined || !names.has(lower)) continue;
    picked.push([lower, Array.isArray(value) ? value.join(', ') : String(value)]);
  }
  return picked;
}

// The payload a store keeps for a response: `<status><header pairs as JSON>\n<body bytes>`, the
// status in decimal digits and the headers as `[["name","value"],…]`. JSON never has a raw
// newline, so the first newline after the `[` ends the headers. Its first byte is a digit; the
// first byte of the earlier layout (status UInt16BE, header length UInt32BE, header JSON, body) is
// below 0x30 for every status up to 12287, so `decodeResponse` still reads records stored by
// earlier versions. Guarded by "decodes payloads of both layouts" (test/response.test.ts).
//
// Fast path: with a string body sent as UTF-8 (what res.json()/res.send(string) do) the payload
// is built as text — no buffer at all here — and a store that takes text (the Redis store) writes
// it to Redis as it is: its UTF-8 bytes are exactly the bytes sent to the client. A body given as
// bytes (Express's res.send() turns a string into a Buffer to compute its ETag) is handed over as
// text too when the store takes text and the bytes are valid UTF-8: decoding valid UTF-8 and
// encoding it again gives the same bytes. Guarded by the byte-for-byte replay tests of
// test/behaviour.test.ts and "stores a UTF-8 body as text and replays it byte for byte" and "hands
// a UTF-8 body given as bytes over as text, when the store takes text" (test/response.test.ts).

const UTF8 = new Set<string | undefined>([undefined, 'utf8', 'utf-8', 'UTF8', 'UTF-8']);

/**
 * Encodes a response into the opaque payload a store keeps (the layout above). A string body sent
 * as UTF-8 gives the payload as text (its UTF-8 bytes are the payload), and so does a body of
 * valid UTF-8 bytes when `textPayloads` (the store takes text); any other body gives bytes, a
 * string body written in place in `encoding`. `bodyLength` is the body's size in bytes
 * ({@link bodyLength}).
 */
export function encodeParts(
  status: number,
  headers: ReadonlyArray<readonly [string, string]>,
  body: string | Uint8Array | undefined | null,
  encoding?: BufferEncoding,
  bodyLength = body === undefined || body === null ? 0 : byteLength(body, encoding),
  textPayloads = false,
): Uint8Array | string {
  if (!Number.isInteger(status) || status < 0 || status > 0xffff) {
    throw new RangeError(`The status of the response to store is not a valid status: ${status}.`);
  }
  const head = `${status}${JSON.stringify(headers)}\n`;
  if (body === undefined || body === null) return head;
  if (typeof body === 'string') {
    if (UTF8.has(encoding)) return head + body;
  } else if (textPayloads && validUtf8(body)) {
    return head + Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8');
  }
  const headLength = Buffer.byteLength(head);
  const out = Buffer.allocUnsafe(headLength + bodyLength);
  out.write(head, 0);
  if (typeof body === 'string') out.write(body, headLength, encoding);
  else out.set(body, headLength);
  return out;
}

const byteLength = (body: string | Uint8Array, encoding: BufferEncoding | undefined) =>
  typeof body === 'string' ? Buffer.byteLength(body, encoding) : body.byteLength;

/** Size in bytes of a body the frameworks hand out as a string or bytes (0 for none). */
export function bodyLength(
  body: string | Uint8Array | undefined | null,
  encoding?: BufferEncoding,
): number {
  return body === undefined || body === null ? 0 : byteLength(body, encoding);
}

/** The inverse of {@link encodeParts} (and of the earlier layout, for records stored before). */
export function decodeResponse(payload: Uint8Array): StoredResponse {
  const buf = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
  if (buf[0]! < 0x30) {
    const headLength = buf.readUInt32BE(2);
    return {
      status: buf.readUInt16BE(0),
      headers: JSON.parse(buf.subarray(6, 6 + headLength).toString()) as [string, string][],
      body: buf.subarray(6 + headLength),
    };
  }
  const open = buf.indexOf(0x5b); // '['
  const newline = buf.indexOf(0x0a, open);
  return {
    status: Number(buf.toString('latin1', 0, open)),
    headers: JSON.parse(buf.toString('utf8', open, newline)) as [string, string][],
    body: buf.subarray(newline + 1),
  };
}
