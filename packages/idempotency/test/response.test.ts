import { describe, expect, it } from 'vitest';
import { decodeResponse, encodeParts } from '../src/response.ts';

const bytesOf = (payload: Uint8Array | string) =>
  typeof payload === 'string' ? Buffer.from(payload) : Buffer.from(payload);

describe('stored response payloads', () => {
  const headers = [
    ['content-type', 'application/json; charset=utf-8'],
    ['location', '/payments/ü'],
  ] as const;

  it('stores a UTF-8 body as text and replays it byte for byte', () => {
    const body = JSON.stringify({ note: 'Grüße — 支払い 💳', newline: '\n' });
    for (const encoding of [undefined, 'utf8', 'utf-8'] as const) {
      const payload = encodeParts(201, headers, body, encoding);
      expect(typeof payload).toBe('string');
      const decoded = decodeResponse(bytesOf(payload));
      expect(decoded.status).toBe(201);
      expect(decoded.headers).toEqual(headers);
      expect(Buffer.from(decoded.body).equals(Buffer.from(body))).toBe(true);
    }
  });

  it('hands a UTF-8 body given as bytes over as text, when the store takes text', () => {
    const text = JSON.stringify({ note: 'Grüße — 支払い 💳', bom: '\ufeff' });
    const bytes = Buffer.concat([Buffer.from('xx'), Buffer.from(text)]).subarray(2);
    const asText = encodeParts(201, headers, bytes, undefined, bytes.byteLength, true);
    expect(typeof asText).toBe('string');
    expect(Buffer.from(asText).equals(bytesOf(encodeParts(201, headers, bytes)))).toBe(true);
    expect(Buffer.from(decodeResponse(bytesOf(asText)).body).equals(bytes)).toBe(true);
    // Not valid UTF-8 (decoding would replace bytes): bytes, as they are.
    const binary = Buffer.from([0x7b, 0xff, 0xfe, 0xc3]);
    const asBytes = encodeParts(200, [], binary, undefined, binary.byteLength, true);
    expect(asBytes).toBeInstanceOf(Uint8Array);
    expect(Buffer.from(decodeResponse(bytesOf(asBytes)).body).equals(binary)).toBe(true);
    // A store that does not take text gets bytes.
    expect(encodeParts(201, headers, bytes, undefined, bytes.byteLength)).toBeInstanceOf(
      Uint8Array,
    );
  });

  it('stores bytes, and strings in another encoding, as bytes', () => {
    const binary = Buffer.from([0, 10, 91, 255, 0x0a, 0x5b]);
    const asBytes = encodeParts(200, [], binary);
    expect(asBytes).toBeInstanceOf(Uint8Array);
    expect(Buffer.from(decodeResponse(bytesOf(asBytes)).body).equals(binary)).toBe(true);

    const latin1 = 'caf\u00e9 \u00ff';
    const asLatin1 = encodeParts(200, headers, latin1, 'latin1');
    expect(asLatin1).toBeInstanceOf(Uint8Array);
    const decoded = decodeResponse(bytesOf(asLatin1));
    expect(decoded.headers).toEqual(headers);
    expect(Buffer.from(decoded.body).equals(Buffer.from(latin1, 'latin1'))).toBe(true);
  });

  it('stores a response without a body', () => {
    for (const body of [undefined, null]) {
      const decoded = decodeResponse(bytesOf(encodeParts(204, [], body)));
      expect(decoded).toMatchObject({ status: 204, headers: [] });
      expect(decoded.body.byteLength).toBe(0);
    }
  });

  it('decodes payloads of both layouts (records stored by earlier versions still replay)', () => {
    // The earlier layout: status UInt16BE, header JSON length UInt32BE, header JSON, body.
    const head = Buffer.from(JSON.stringify(headers));
    const body = Buffer.from('{"id":"pay_1"}');
    const earlier = Buffer.alloc(6 + head.length + body.length);
    earlier.writeUInt16BE(201, 0);
    earlier.writeUInt32BE(head.length, 2);
    head.copy(earlier, 6);
    body.copy(earlier, 6 + head.length);
    const current = bytesOf(encodeParts(201, headers, body.toString()));
    for (const payload of [earlier, current]) {
      const decoded = decodeResponse(payload);
      expect(decoded.status).toBe(201);
      expect(decoded.headers).toEqual(headers);
      expect(Buffer.from(decoded.body).equals(body)).toBe(true);
    }
    // A payload inside a larger buffer (a store's reply, sliced) decodes the same.
    const sliced = Buffer.concat([Buffer.from('Cfingerprint\n'), current]).subarray(13);
    expect(decodeResponse(sliced).status).toBe(201);
  });

  it('refuses a status it could not store', () => {
    expect(() => encodeParts(-1, [], 'x')).toThrow(RangeError);
    expect(() => encodeParts(1.5, [], 'x')).toThrow(RangeError);
  });
});
