// Counts the Redis commands a process sends, on the wire: a TCP proxy in front of Redis that
// reads the client-to-server RESP stream. Commands a Lua script runs inside Redis never cross the
// wire, so they are not counted — exactly the round trips. Nothing here talks to Redis itself
// (MONITOR, which this replaces, broke ioredis' command queue and with it the whole bench run).
import { connect, createServer, type Server, type Socket } from 'node:net';

/** A proxy in front of one Redis; point a client at `url` and read `count()`. */
export interface CountingProxy {
  /** The proxy's Redis URL (same scheme, database and credentials as the upstream one). */
  readonly url: string;
  /** Commands sent so far that mention `filter` in one of their arguments. */
  count(): number;
  /** Resolves once no client has sent anything for `quietMs` (after fire-and-forget writes). */
  quiet(quietMs?: number, maxMs?: number): Promise<void>;
  close(): Promise<void>;
}

const CRLF = Buffer.from('\r\n');

/**
 * Splits a RESP request stream into commands. Returns the commands complete in `buffer` and the
 * offset where the unfinished rest begins. Handles arrays of bulk strings (what every client
 * library sends) and inline commands.
 */
export function parseCommands(buffer: Buffer): { commands: string[][]; rest: number } {
  const commands: string[][] = [];
  let at = 0;
  outer: while (at < buffer.length) {
    const lineEnd = buffer.indexOf(CRLF, at);
    if (lineEnd === -1) break;
    if (buffer[at] !== 0x2a /* '*' */) {
      const inline = buffer.toString('utf8', at, lineEnd).trim();
      if (inline) commands.push(inline.split(/\s+/));
      at = lineEnd + 2;
      continue;
    }
    const count = Number(buffer.toString('latin1', at + 1, lineEnd));
    let next = lineEnd + 2;
    const args: string[] = [];
    for (let i = 0; i < count; i++) {
      const headerEnd = buffer.indexOf(CRLF, next);
      if (headerEnd === -1) break outer;
      const length = Number(buffer.toString('latin1', next + 1, headerEnd));
      const start = headerEnd + 2;
      if (buffer.length < start + length + 2) break outer;
      args.push(buffer.toString('utf8', start, start + length));
      next = start + length + 2;
    }
    commands.push(args);
    at = next;
  }
  return { commands, rest: at };
}

/** Starts a counting proxy on 127.0.0.1 in front of `redisUrl`. */
export async function countingProxy(redisUrl: string, filter: string): Promise<CountingProxy> {
  const upstream = new URL(redisUrl);
  const sockets = new Set<Socket>();
  let commands = 0;
  let lastTraffic = Date.now();
  const server: Server = createServer((client) => {
    const redis = connect(Number(upstream.port || 6379), upstream.hostname);
    sockets.add(client).add(redis);
    let pending: Buffer = Buffer.alloc(0);
    client.on('data', (chunk: Buffer) => {
      lastTraffic = Date.now();
      pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
      const parsed = parseCommands(pending);
      for (const args of parsed.commands) if (args.some((a) => a.includes(filter))) commands++;
      pending = pending.subarray(parsed.rest);
      redis.write(chunk);
    });
    redis.pipe(client);
    const end = () => {
      client.destroy();
      redis.destroy();
      sockets.delete(client);
      sockets.delete(redis);
    };
    for (const socket of [client, redis]) socket.on('error', end).on('close', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('proxy has no port');
  const url = new URL(redisUrl);
  url.hostname = '127.0.0.1';
  url.port = String(address.port);
  return {
    url: url.toString(),
    count: () => commands,
    async quiet(quietMs = 100, maxMs = 5_000) {
      const started = Date.now();
      while (Date.now() - lastTraffic < quietMs) {
        if (Date.now() - started > maxMs)
          throw new Error(`Redis traffic did not stop within ${maxMs} ms`);
        await new Promise((resolve) => setTimeout(resolve, quietMs / 4));
      }
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
