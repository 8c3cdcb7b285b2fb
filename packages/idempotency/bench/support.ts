// Shared pieces of the idempotency benchmarks: a Redis for the run, a server variant in its own
// process, and a request helper.
import { randomUUID } from 'node:crypto';
import { request } from 'node:http';
import { fileURLToPath } from 'node:url';
import { type ServerProcess, startServerProcess } from '@ballast/bench';
import { startRedisServer } from '@ballast/test-utils';

export const VARIANTS = [
  'bare',
  'ballast',
  'express-idempotency',
  'node-idempotency',
  'redis-floor',
  'fenced-floor',
] as const;
export type Variant = (typeof VARIANTS)[number];

const serverScript = fileURLToPath(new URL('./server.ts', import.meta.url));

/** Runs `fn` with a Redis URL: REDIS_URL when set, else a private redis-server for this run. */
export async function withRedis<T>(fn: (url: string) => Promise<T>): Promise<T> {
  if (process.env.REDIS_URL) return fn(process.env.REDIS_URL);
  const redis = await startRedisServer();
  try {
    return await fn(redis.url);
  } finally {
    await redis.stop();
  }
}

/** Starts one variant's server in a process of its own, with a fresh key prefix. */
export async function startVariant(
  variant: Variant,
  redisUrl: string,
  env: Record<string, string> = {},
  prefix = `bench-idem:${randomUUID()}:`,
): Promise<ServerProcess & { prefix: string }> {
  const server = await startServerProcess(serverScript, [variant], {
    REDIS_URL: redisUrl,
    PREFIX: prefix,
    ...env,
  });
  return { ...server, prefix };
}

/** One POST /payments with a key; resolves with the status. */
export function pay(url: string, key: string, amount = 100): Promise<number> {
  return payWithBody(url, key, amount).then((r) => r.status);
}

/** One POST /payments with a key; resolves with the status and the body. */
export function payWithBody(
  url: string,
  key: string,
  amount = 100,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const body = JSON.stringify({ amount });
    const req = request(
      `${url}/payments`,
      { method: 'POST', headers: { 'content-type': 'application/json', 'idempotency-key': key } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          text += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}
