import { createSocket } from 'node:dgram';
import type { AddressInfo } from 'node:net';

// A tiny authoritative DNS server over UDP on 127.0.0.1, for the DNS registry's tests: it answers
// A, AAAA and SRV questions from a zone the test can change while it runs (RFC 1035 wire format,
// names written out in full, no compression).

/** The records of one name. */
export interface ZoneEntry {
  A?: { address: string; ttl: number }[];
  AAAA?: { address: string; ttl: number }[];
  SRV?: { priority: number; weight: number; port: number; target: string; ttl: number }[];
  /** Answer SERVFAIL for this name. */
  servfail?: boolean;
}

/** Names (lower case, no trailing dot) to their records; a name not here answers NXDOMAIN. */
export type Zone = Record<string, ZoneEntry>;

export interface TestDnsServer {
  /** `127.0.0.1:<port>`, for `dnsRegistry({ servers: [server.address] })`. */
  readonly address: string;
  /** Every question asked, as `TYPE name`. */
  readonly questions: string[];
  /** Replaces the zone. */
  setZone(zone: Zone): void;
  close(): Promise<void>;
}

const TYPES: Record<number, 'A' | 'AAAA' | 'SRV'> = { 1: 'A', 28: 'AAAA', 33: 'SRV' };
const TYPE_CODES = { A: 1, AAAA: 28, SRV: 33 } as const;

export async function startDnsServer(initial: Zone): Promise<TestDnsServer> {
  let zone = initial;
  const questions: string[] = [];
  const socket = createSocket('udp4');
  socket.on('message', (message, remote) => {
    const reply = answer(message, zone, questions);
    if (reply) socket.send(reply, remote.port, remote.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const { port } = socket.address() as AddressInfo;
  return {
    address: `127.0.0.1:${port}`,
    questions,
    setZone: (next) => {
      zone = next;
    },
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}

function answer(query: Buffer, zone: Zone, questions: string[]): Buffer | undefined {
  if (query.length < 12) return undefined;
  const id = query.readUInt16BE(0);
  const flags = query.readUInt16BE(2);
  if (query.readUInt16BE(4) !== 1) return undefined;
  const { name, end } = readName(query, 12);
  const type = query.readUInt16BE(end);
  const question = query.subarray(12, end + 4);
  const key = name.toLowerCase();
  const typeName = TYPES[type] ?? String(type);
  questions.push(`${typeName} ${key}`);
  const entry = zone[key];
  let rcode = 0;
  const answers: Buffer[] = [];
  if (entry === undefined)
    rcode = 3; // NXDOMAIN
  else if (entry.servfail)
    rcode = 2; // SERVFAIL
  else if (TYPES[type] === 'A') {
    for (const r of entry.A ?? [])
      answers.push(record(name, 1, r.ttl, Buffer.from(r.address.split('.').map(Number))));
  } else if (TYPES[type] === 'AAAA') {
    for (const r of entry.AAAA ?? []) answers.push(record(name, 28, r.ttl, ipv6(r.address)));
  } else if (TYPES[type] === 'SRV') {
    for (const r of entry.SRV ?? []) {
      const head = Buffer.alloc(6);
      head.writeUInt16BE(r.priority, 0);
      head.writeUInt16BE(r.weight, 2);
      head.writeUInt16BE(r.port, 4);
      answers.push(record(name, TYPE_CODES.SRV, r.ttl, Buffer.concat([head, writeName(r.target)])));
    }
  }
  const header = Buffer.alloc(12);
  header.writeUInt16BE(id, 0);
  // QR, opcode copied, AA, RD copied, RA, rcode.
  header.writeUInt16BE(0x8000 | (flags & 0x7800) | 0x0400 | (flags & 0x0100) | 0x0080 | rcode, 2);
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(answers.length, 6);
  return Buffer.concat([header, question, ...answers]);
}

function record(name: string, type: number, ttl: number, data: Buffer): Buffer {
  const fixed = Buffer.alloc(10);
  fixed.writeUInt16BE(type, 0);
  fixed.writeUInt16BE(1, 2); // class IN
  fixed.writeUInt32BE(ttl, 4);
  fixed.writeUInt16BE(data.length, 8);
  return Buffer.concat([writeName(name), fixed, data]);
}

function readName(buf: Buffer, offset: number): { name: string; end: number } {
  const labels: string[] = [];
  let at = offset;
  for (;;) {
    const length = buf[at]!;
    at += 1;
    if (length === 0) break;
    labels.push(buf.toString('ascii', at, at + length));
    at += length;
  }
  return { name: labels.join('.'), end: at };
}

function writeName(name: string): Buffer {
  const parts = name
    .split('.')
    .filter((label) => label.length > 0)
    .map((label) => Buffer.concat([Buffer.from([label.length]), Buffer.from(label, 'ascii')]));
  return Buffer.concat([...parts, Buffer.from([0])]);
}

function ipv6(address: string): Buffer {
  const [head = '', tail = ''] = address.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === '' ? [] : tail.split(':');
  const groups = address.includes('::')
    ? [...left, ...Array(8 - left.length - right.length).fill('0'), ...right]
    : left;
  const out = Buffer.alloc(16);
  for (const [i, group] of groups.entries()) out.writeUInt16BE(Number.parseInt(group, 16), i * 2);
  return out;
}
