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

/**
 * Encodes a response into the opaque payload a store keeps — status, header JSON, raw body bytes —
 * in one buffer: a string body is written in place (in `encoding`) rather than turned into bytes
 * first. `bodyLength` is its size in bytes ({@link bodyLength}).
 */
export function encodeParts(
  status: number,
  headers: ReadonlyArray<readonly [string, string]>,
  body: string | Uint8Array | undefined | null,
  encoding?: BufferEncoding,
  bodyLength = body === undefined || body === null ? 0 : byteLength(body, encoding),
): Uint8Array {
  const head = JSON.stringify(headers);
  const headLength = Buffer.byteLength(head);
  const out = Buffer.allocUnsafe(6 + headLength + bodyLength);
  out.writeUInt16BE(status, 0);
  out.writeUInt32BE(headLength, 2);
  out.write(head, 6);
  if (typeof body === 'string') out.write(body, 6 + headLength, encoding);
  else if (body) out.set(body, 6 + headLength);
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

/** The inverse of {@link encodeParts}. */
export function decodeResponse(payload: Uint8Array): StoredResponse {
  const buf = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
  const headLength = buf.readUInt32BE(2);
  return {
    status: buf.readUInt16BE(0),
    headers: JSON.parse(buf.subarray(6, 6 + headLength).toString()) as [string, string][],
    body: buf.subarray(6 + headLength),
  };
}
