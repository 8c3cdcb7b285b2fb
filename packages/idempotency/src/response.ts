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

/** Encodes a response into the opaque payload a store keeps: status, header JSON, raw body bytes. */
export function encodeResponse(response: StoredResponse): Uint8Array {
  const head = Buffer.from(JSON.stringify(response.headers));
  const out = Buffer.allocUnsafe(6 + head.length + response.body.byteLength);
  out.writeUInt16BE(response.status, 0);
  out.writeUInt32BE(head.length, 2);
  head.copy(out, 6);
  out.set(response.body, 6 + head.length);
  return out;
}

/** The inverse of {@link encodeResponse}. */
export function decodeResponse(payload: Uint8Array): StoredResponse {
  const buf = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
  const headLength = buf.readUInt32BE(2);
  return {
    status: buf.readUInt16BE(0),
    headers: JSON.parse(buf.subarray(6, 6 + headLength).toString()) as [string, string][],
    body: buf.subarray(6 + headLength),
  };
}

/** Bytes of a body the frameworks hand out as a string or bytes (`undefined` for none). */
export function bodyBytes(
  body: string | Uint8Array | undefined | null,
  encoding?: BufferEncoding,
): Uint8Array {
  if (body === undefined || body === null) return new Uint8Array(0);
  return typeof body === 'string' ? Buffer.from(body, encoding) : body;
}
