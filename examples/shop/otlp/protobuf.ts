/**
 * A small decoder for the OTLP/HTTP protobuf trace request (ExportTraceServiceRequest), enough for
 * the shop's receiver: protobuf's wire format (varints, fixed 32/64, length-delimited fields) read
 * field by field into the same shape the OTLP/JSON encoding gives, so one code path handles both.
 * Unknown fields are skipped, as protobuf requires.
 */

type Handler = (reader: Reader, wireType: number, end: number) => void;

class Reader {
  readonly bytes: Uint8Array;
  readonly view: DataView;
  pos = 0;
  constructor(bytes: Uint8Array) {
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  varint(): bigint {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      if (this.pos >= this.bytes.length) throw new Error('truncated varint');
      const byte = this.bytes[this.pos++] as number;
      result |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return result;
      shift += 7n;
      if (shift > 70n) throw new Error('varint too long');
    }
  }
  uint(): number {
    return Number(this.varint());
  }
  fixed64(): bigint {
    const value = this.view.getBigUint64(this.pos, true);
    this.pos += 8;
    return value;
  }
  double(): number {
    const value = this.view.getFloat64(this.pos, true);
    this.pos += 8;
    return value;
  }
  fixed32(): number {
    const value = this.view.getUint32(this.pos, true);
    this.pos += 4;
    return value;
  }
  chunk(): Uint8Array {
    const length = this.uint();
    if (this.pos + length > this.bytes.length) throw new Error('truncated field');
    const out = this.bytes.subarray(this.pos, this.pos + length);
    this.pos += length;
    return out;
  }
  string(): string {
    return Buffer.from(this.chunk()).toString('utf8');
  }
  skip(wireType: number): void {
    if (wireType === 0) this.varint();
    else if (wireType === 1) this.pos += 8;
    else if (wireType === 2) this.chunk();
    else if (wireType === 5) this.pos += 4;
    else throw new Error(`unsupported wire type ${wireType}`);
  }
}

/** Reads one message: calls `fields[number]` for each known field, skips the others. */
function message(bytes: Uint8Array, fields: Record<number, Handler>): void {
  const reader = new Reader(bytes);
  while (reader.pos < bytes.length) {
    const tag = reader.uint();
    const field = tag >>> 3;
    const wireType = tag & 7;
    const handler = fields[field];
    if (handler) handler(reader, wireType, bytes.length);
    else reader.skip(wireType);
  }
}

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');

function signed64(value: bigint): string {
  return BigInt.asIntN(64, value).toString();
}

function anyValue(bytes: Uint8Array): Record<string, unknown> {
  let out: Record<string, unknown> = {};
  message(bytes, {
    1: (r) => {
      out = { stringValue: r.string() };
    },
    2: (r) => {
      out = { boolValue: r.varint() !== 0n };
    },
    3: (r) => {
      out = { intValue: signed64(r.varint()) };
    },
    4: (r) => {
      out = { doubleValue: r.double() };
    },
    5: (r) => {
      const values: unknown[] = [];
      message(r.chunk(), { 1: (a) => void values.push(anyValue(a.chunk())) });
      out = { arrayValue: { values } };
    },
    6: (r) => {
      const values: unknown[] = [];
      message(r.chunk(), { 1: (a) => void values.push(keyValue(a.chunk())) });
      out = { kvlistValue: { values } };
    },
    7: (r) => {
      out = { bytesValue: Buffer.from(r.chunk()).toString('base64') };
    },
  });
  return out;
}

function keyValue(bytes: Uint8Array): { key: string; value: Record<string, unknown> } {
  const kv = { key: '', value: {} as Record<string, unknown> };
  message(bytes, {
    1: (r) => {
      kv.key = r.string();
    },
    2: (r) => {
      kv.value = anyValue(r.chunk());
    },
  });
  return kv;
}

function span(bytes: Uint8Array): Record<string, unknown> {
  const out: Record<string, unknown> = { attributes: [], events: [], links: [] };
  const attributes = out.attributes as unknown[];
  const events = out.events as unknown[];
  const links = out.links as unknown[];
  message(bytes, {
    1: (r) => {
      out.traceId = hex(r.chunk());
    },
    2: (r) => {
      out.spanId = hex(r.chunk());
    },
    3: (r) => {
      out.traceState = r.string();
    },
    4: (r) => {
      out.parentSpanId = hex(r.chunk());
    },
    5: (r) => {
      out.name = r.string();
    },
    6: (r) => {
      out.kind = r.uint();
    },
    7: (r) => {
      out.startTimeUnixNano = r.fixed64().toString();
    },
    8: (r) => {
      out.endTimeUnixNano = r.fixed64().toString();
    },
    9: (r) => void attributes.push(keyValue(r.chunk())),
    11: (r) => {
      const event: Record<string, unknown> = { attributes: [] };
      message(r.chunk(), {
        1: (e) => {
          event.timeUnixNano = e.fixed64().toString();
        },
        2: (e) => {
          event.name = e.string();
        },
        3: (e) => void (event.attributes as unknown[]).push(keyValue(e.chunk())),
      });
      events.push(event);
    },
    13: (r) => {
      const link: Record<string, unknown> = { attributes: [] };
      message(r.chunk(), {
        1: (l) => {
          link.traceId = hex(l.chunk());
        },
        2: (l) => {
          link.spanId = hex(l.chunk());
        },
        4: (l) => void (link.attributes as unknown[]).push(keyValue(l.chunk())),
      });
      links.push(link);
    },
    15: (r) => {
      const status: Record<string, unknown> = {};
      message(r.chunk(), {
        2: (s) => {
          status.message = s.string();
        },
        3: (s) => {
          status.code = s.uint();
        },
      });
      out.status = status;
    },
    16: (r, wireType) => {
      if (wireType === 5) out.flags = r.fixed32();
      else r.skip(wireType);
    },
  });
  return out;
}

/** ExportTraceServiceRequest bytes → the OTLP/JSON object shape (`{ resourceSpans: [...] }`). */
export function decodeTraceRequest(bytes: Uint8Array): { resourceSpans: unknown[] } {
  const resourceSpans: unknown[] = [];
  message(bytes, {
    1: (r) => {
      const rs: Record<string, unknown> = { resource: { attributes: [] }, scopeSpans: [] };
      message(r.chunk(), {
        1: (x) => {
          const attributes: unknown[] = [];
          message(x.chunk(), { 1: (a) => void attributes.push(keyValue(a.chunk())) });
          rs.resource = { attributes };
        },
        2: (x) => {
          const ss: Record<string, unknown> = { scope: {}, spans: [] };
          message(x.chunk(), {
            1: (s) => {
              const scope: Record<string, unknown> = {};
              message(s.chunk(), {
                1: (n) => {
                  scope.name = n.string();
                },
                2: (n) => {
                  scope.version = n.string();
                },
              });
              ss.scope = scope;
            },
            2: (s) => void (ss.spans as unknown[]).push(span(s.chunk())),
          });
          (rs.scopeSpans as unknown[]).push(ss);
        },
      });
      resourceSpans.push(rs);
    },
  });
  return { resourceSpans };
}
