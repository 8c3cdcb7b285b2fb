// One bench server per process: `node server.ts <variant>` with REDIS_URL and PREFIX in the env.
// Variants: bare | ballast | express-idempotency | node-idempotency | redis-floor | fenced-floor. Every variant serves the same
// POST /payments handler; the idempotent ones keep their records in the same Redis.
// HANDLER_DELAY_MS makes the handler slower (the duplicates scenario); COUNT_RUNS=1 counts
// handler runs in Redis (INCR <PREFIX>runs).
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import { redisStore } from '@ballast/idempotency';
import { idempotency as ballast } from '@ballast/idempotency/express';
import { Idempotency } from '@node-idempotency/core';
import { RedisStorageAdapter } from '@node-idempotency/storage-adapter-redis';
import express, { type Request, type Response } from 'express';
import {
  idempotency as expressIdempotency,
  getSharedIdempotencyService,
} from 'express-idempotency';
import { Redis } from 'ioredis';
import { RedisDataAdapter } from './express-idempotency-redis.ts';

const variant = process.argv[2];
const url = process.env.REDIS_URL!;
const prefix = process.env.PREFIX ?? 'bench:';
const delayMs = Number(process.env.HANDLER_DELAY_MS ?? 0);
const counter = process.env.COUNT_RUNS === '1' ? new Redis(url) : undefined;

let charges = 0;
async function charge(req: Request): Promise<{ id: string; amount: number }> {
  if (counter) await counter.incr(`${prefix}runs`);
  if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
  return { id: `ch_${++charges}`, amount: Number(req.body?.amount ?? 0) };
}

const app = express();
app.use(express.json());

if (variant === 'bare') {
  app.post('/payments', async (req, res) => {
    res.status(201).json(await charge(req));
  });
} else if (variant === 'ballast') {
  app.use(ballast({ store: redisStore({ client: new Redis(url), prefix }) }));
  app.post('/payments', async (req, res) => {
    res.status(201).json(await charge(req));
  });
} else if (variant === 'express-idempotency') {
  // README: app.post('*', idempotency({ dataAdapter })), and the handler checks isHit(req).
  app.post(
    '/payments',
    expressIdempotency({ dataAdapter: new RedisDataAdapter(new Redis(url), prefix) }),
  );
  app.post('/payments', async (req, res) => {
    if (getSharedIdempotencyService().isHit(req)) return;
    res.status(201).json(await charge(req));
  });
  app.use((error: Error, _req: Request, res: Response, _next: () => void) => {
    res.status(res.statusCode >= 400 ? res.statusCode : 500).json({ error: error.message });
  });
} else if (variant === 'node-idempotency') {
  // README: call onRequest before the business logic and onResponse when it completes.
  const storage = new RedisStorageAdapter({ url });
  await storage.connect();
  const idempotency = new Idempotency(storage, {
    cacheKeyPrefix: prefix,
    enforceIdempotency: true,
  });
  const status = { REQUEST_IN_PROGRESS: 409, IDEMPOTENCY_FINGERPRINT_MISSMATCH: 422 } as Record<
    string,
    number
  >;
  app.post('/payments', async (req, res) => {
    const params = { method: req.method, headers: req.headers, body: req.body, path: req.path };
    try {
      const cached = await idempotency.onRequest(params);
      if (cached) return res.status(Number(cached.additional?.status ?? 200)).json(cached.body);
    } catch (error) {
      const code = (error as { code?: string }).code ?? '';
      return res.status(status[code] ?? 400).json({ error: (error as Error).message });
    }
    const body = await charge(req);
    await idempotency.onResponse(params, { body, additional: { status: 201 } });
    res.status(201).json(body);
  });
} else if (variant === 'redis-floor') {
  // Not an idempotency layer: the same Redis round trips as Ballast (claim with SET NX GET; store
  // the body; a replay is the claim alone) with nothing else — no fingerprint, fencing, lock
  // extension, header capture or telemetry. What any implementation on ioredis must at least pay.
  const redis = new Redis(url);
  app.post('/payments', async (req, res) => {
    const key = `${prefix}{${req.get('idempotency-key')}}`;
    const found = await redis.set(key, 'L', 'PX', 30_000, 'NX', 'GET');
    if (found !== null && found !== 'L') return res.status(201).type('json').send(found);
    const body = JSON.stringify(await charge(req));
    await redis.set(key, body, 'PX', 86_400_000);
    res.status(201).type('json').send(body);
  });
} else if (variant === 'fenced-floor') {
  // Not an idempotency layer either: redis-floor's round trips, but completing the way any fenced
  // store on Redis 7.0 must (a script that stores only while the value is still this request's
  // lock), with an owner token in the lock. The floor for an implementation that keeps the
  // guarantee "a late owner whose lock expired never overwrites".
  const redis = new Redis(url);
  redis.defineCommand('fencedComplete', {
    numberOfKeys: 1,
    lua: `if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3]) return 1`,
  });
  const fenced = redis as Redis & {
    fencedComplete(key: string, lock: string, value: string, ttl: number): Promise<number>;
  };
  app.post('/payments', async (req, res) => {
    const key = `${prefix}{${req.get('idempotency-key')}}`;
    const lock = `L${randomUUID()}`;
    const found = await redis.set(key, lock, 'PX', 30_000, 'NX', 'GET');
    if (found !== null && found[0] !== 'L') return res.status(201).type('json').send(found);
    const body = JSON.stringify(await charge(req));
    await fenced.fencedComplete(key, lock, body, 86_400_000);
    res.status(201).type('json').send(body);
  });
} else {
  throw new Error(`unknown variant ${variant}`);
}

const server = createServer(app);
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  const address = server.address() as { port: number };
  process.stdout.write(`listening http://127.0.0.1:${address.port}\n`);
});
process.on('SIGTERM', () => process.exit(0));
