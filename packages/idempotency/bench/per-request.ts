// Ballast's own CPU per first request, without a network or Redis: the Express adapter's path
// (nodeView, HttpCore.begin, captureResponse, the captured end, Attempt.finish) on real node:http
// request/response objects, against a redisStore() whose client answers every command at once.
// What is left is exactly the per-request work issue 20 is about (fingerprint, key parsing, lock
// value, header capture, encoding, telemetry hooks, promise hops).
//
//   node packages/idempotency/bench/per-request.ts            # CPU µs per request, median of 7 runs
//   BASELINE=1 node packages/idempotency/bench/per-request.ts # the same without Ballast
//   node --cpu-prof packages/idempotency/bench/per-request.ts # and a .cpuprofile to read
//
// With REDIS_URL set it talks to that Redis through a real ioredis client instead (CPU time still:
// the waits do not count, ioredis's own work does), and MODE=floor runs the bench's redis-floor
// route (SET NX GET, then SET) on the same objects, so the two CPU costs compare directly.
//
// It imports the sources (type stripping), not dist, so a change shows without a build.
import { randomUUID } from 'node:crypto';
import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import { HttpCore } from '../src/http.ts';
import { captureResponse, nodeView } from '../src/node-response.ts';
import { redisStore } from '../src/redis-store.ts';

const REQUESTS = Number(process.env.REQUESTS ?? 20_000);
const RUNS = Number(process.env.RUNS ?? 7);
// BASELINE=1: the same request/response objects and end(), without Ballast (subtract it).
const BASELINE = process.env.BASELINE === '1';
const FLOOR = process.env.MODE === 'floor';
// MODE=express: the request goes through a real Express app (the bench server's `ballast` route);
// MODE=express-floor and MODE=express-fenced through the bench server's `redis-floor` and
// `fenced-floor` routes on Express (with REDIS_URL), so the three compare with Express included.
const EXPRESS = process.env.MODE === 'express';
const EXPRESS_FLOOR = process.env.MODE === 'express-floor';
const EXPRESS_FENCED = process.env.MODE === 'express-fenced';
const REDIS_URL = process.env.REDIS_URL;

/** An ioredis stand-in: every key is new, every completion succeeds, at once. */
const fake = {
  status: 'ready',
  defineCommand() {},
  quit: async () => 'OK',
  disconnect() {},
  setBuffer: () => Promise.resolve(null),
  evalsha: () => Promise.resolve(1),
  eval: () => Promise.resolve(1),
};

const { Redis } = await import('ioredis');
const redis = REDIS_URL ? new Redis(REDIS_URL) : undefined;
const prefix = `bench-per-request:${randomUUID()}:`;
const core = new HttpCore<IncomingMessage>(
  { store: redisStore({ client: redis ?? fake, prefix }) },
  'bench idempotency()',
);
const socket = new Socket();
const body = { amount: 100 };
const payload = JSON.stringify({ id: 'ch_1', amount: 100 });

async function one(key: string): Promise<void> {
  const req = new IncomingMessage(socket);
  req.method = 'POST';
  req.url = '/payments';
  req.headers = { 'content-type': 'application/json', 'idempotency-key': key };
  const res = new ServerResponse(req);
  // Without a socket end()'s callback never runs: resolve when the real end() is called (after
  // the capture stored the response).
  const ended = new Promise<void>((resolve) => {
    const end = res.end;
    res.end = function (this: ServerResponse, ...args: unknown[]) {
      resolve();
      return (end as (...a: unknown[]) => ServerResponse).apply(this, args);
    } as ServerResponse['end'];
  });
  if (FLOOR) return floor(req, res);
  if (EXPRESS || EXPRESS_FLOOR || EXPRESS_FENCED) {
    // As if express.json() had run: body-parser skips a request whose _body is set.
    Object.assign(req, { body, _body: true });
    (EXPRESS ? app : floorApp)(req as never, res as never);
    return ended;
  }
  if (!BASELINE) await ballast(req, res);
  // What Express's res.status(201).json() does, minus Express.
  res.statusCode = 201;
  res.setHeader('content-type', 'application/json; charset=utf-8');
  res.setHeader('content-length', Buffer.byteLength(payload));
  res.end(payload);
  await ended;
}

const { default: express } = await import('express');
const { idempotency } = await import('../src/adapters/express.ts');
const app = express();
app.use(express.json());
app.use(idempotency({ store: redisStore({ client: redis ?? fake, prefix }) }));
app.post('/payments', (req, res) => {
  res.status(201).json({ id: 'ch_1', amount: Number(req.body?.amount ?? 0) });
});

/** bench/server.ts's redis-floor and fenced-floor routes, on Express. */
const floorApp = express();
floorApp.use(express.json());
if (redis) {
  redis.defineCommand('fencedComplete', {
    numberOfKeys: 1,
    lua: `if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3]) return 1`,
  });
}
const fenced = redis as unknown as {
  fencedComplete(key: string, lock: string, value: string, ttl: number): Promise<number>;
};
floorApp.post('/payments', async (req, res) => {
  if (!redis) throw new Error('MODE=express-floor and express-fenced need REDIS_URL');
  const key = `${prefix}{${req.get('idempotency-key')}}`;
  const lock = EXPRESS_FENCED ? `L${randomUUID()}` : 'L';
  const found = await redis.set(key, lock, 'PX', 30_000, 'NX', 'GET');
  if (found !== null && found[0] !== 'L') return res.status(201).type('json').send(found);
  const text = JSON.stringify({ id: 'ch_1', amount: Number(req.body?.amount ?? 0) });
  if (EXPRESS_FENCED) await fenced.fencedComplete(key, lock, text, 86_400_000);
  else await redis.set(key, text, 'PX', 86_400_000);
  res.status(201).type('json').send(text);
});

/** bench/server.ts's redis-floor route, minus Express. */
async function floor(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const client = redis ?? (fake as unknown as import('ioredis').Redis);
  const key = `${prefix}{${req.headers['idempotency-key']}}`;
  if (redis) await client.set(key, 'L', 'PX', 30_000, 'NX', 'GET');
  const text = JSON.stringify({ id: 'ch_1', amount: Number(body.amount) });
  if (redis) await client.set(key, text, 'PX', 86_400_000);
  res.statusCode = 201;
  res.setHeader('content-type', 'application/json; charset=utf-8');
  res.setHeader('content-length', Buffer.byteLength(text));
  res.end(text);
}

async function ballast(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const begin = await core.begin(req, nodeView(core, req, res, body));
  if (begin.kind !== 'execute') throw new Error(`expected execute, got ${begin.kind}`);
  captureResponse(res, begin.attempt);
}

async function run(): Promise<number> {
  const keys = Array.from({ length: REQUESTS }, () => randomUUID());
  // CPU time of this process, not wall time: on a shared machine other processes' load does not
  // count (cache and frequency effects still do, so compare runs made side by side).
  const started = process.cpuUsage();
  // 16 in flight, as the HTTP bench's 16 connections.
  let next = 0;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next < keys.length) await one(keys[next++]!);
    }),
  );
  const used = process.cpuUsage(started);
  return (used.user + used.system) / REQUESTS;
}

await run(); // warm-up
const results: number[] = [];
for (let i = 0; i < RUNS; i++) results.push(await run());
results.sort((a, b) => a - b);
const median = results[Math.floor(results.length / 2)]!;
redis?.disconnect();
console.log(
  `${process.env.MODE ?? (BASELINE ? 'baseline' : 'ballast')}: ${median.toFixed(2)} µs/request (median of ${RUNS} runs of ${REQUESTS}; range ${results[0]!.toFixed(2)}–${results.at(-1)!.toFixed(2)})`,
);
