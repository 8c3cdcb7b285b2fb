// Where the CPU of one request goes, per process, under the bench's own HTTP load:
//   node packages/idempotency/bench/cpu-split.ts                  # ballast, fenced-floor, redis-floor
//   VARIANTS=ballast,redis-floor MODE=replay node packages/idempotency/bench/cpu-split.ts
//
// For each variant in turn (rounds alternate the order): its server in a process of its own (as in
// the bench), loaded by autocannon (16 connections, a new key per request, or one completed key
// with MODE=replay) for DURATION_MS after a warm-up; then the CPU time each process spent, divided
// by the requests answered: the server (from /proc/<pid>/stat), Redis (INFO cpu, the whole
// redis-server) and the load generator (this process). CPU time, not wall time: another process's
// load on a shared machine changes it little, so variants compare even when req/s does not. On a
// saturated machine req/s is about cores / (the three summed), so the sums predict the bench's
// ratios. Medians over ROUNDS are printed.
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { Redis } from 'ioredis';
import { pay, type Variant, withRedis } from './support.ts';

const DURATION_MS = Number(process.env.DURATION_MS ?? 3_000);
const WARM_UP_MS = 1_000;
const ROUNDS = Number(process.env.ROUNDS ?? 3);
// RATE=<req/s>: every variant at the same request rate (below what the slowest sustains), so each
// process batches alike and CPU per request compares at equal load; unset, as fast as it goes.
const RATE = process.env.RATE ? Number(process.env.RATE) : undefined;
const MODE = process.env.MODE === 'replay' ? 'replay' : 'fresh';
const variants = (process.env.VARIANTS ?? 'ballast,fenced-floor,redis-floor').split(
  ',',
) as Variant[];
const serverScript = fileURLToPath(new URL('./server.ts', import.meta.url));
const TICKS_PER_S = 100; // USER_HZ on Linux

/** user + system CPU seconds of a process, from /proc/<pid>/stat. */
function processCpu(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_S;
}

async function redisCpu(admin: Redis): Promise<number> {
  const info = await admin.info('cpu');
  const read = (name: string) => Number(new RegExp(`${name}:([\\d.]+)`).exec(info)![1]);
  return read('used_cpu_user') + read('used_cpu_sys');
}

interface Split {
  server: number;
  redis: number;
  load: number;
  rps: number;
}

async function measure(variant: Variant, redisUrl: string): Promise<Split> {
  // PROFILE_DIR=<dir>: the server writes a .cpuprofile there (node --cpu-prof) when it stops.
  const profile = process.env.PROFILE_DIR
    ? ['--cpu-prof', `--cpu-prof-dir=${process.env.PROFILE_DIR}/${variant}`]
    : [];
  const child = spawn(process.execPath, [...profile, serverScript, variant], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, REDIS_URL: redisUrl, PREFIX: `cpu-split:${randomUUID()}:` },
  });
  const exited = new Promise((done) => child.once('exit', done));
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk;
      const match = /listening (\S+)/.exec(out);
      if (match) resolve(match[1]!);
    });
    child.once('exit', () => reject(new Error(`${variant} exited before listening`)));
  });
  const admin = new Redis(redisUrl);
  try {
    const headers = { 'content-type': 'application/json' };
    const body = JSON.stringify({ amount: 100 });
    const key = randomUUID();
    if (MODE === 'replay' && (await pay(url, key)) !== 201) throw new Error('first request failed');
    const run = (durationMs: number) =>
      autocannon({
        url: `${url}/payments`,
        method: 'POST',
        headers: MODE === 'replay' ? { ...headers, 'idempotency-key': key } : headers,
        body,
        connections: 16,
        duration: durationMs / 1000,
        ...(RATE ? { overallRate: RATE } : {}),
        requests:
          MODE === 'fresh'
            ? [
                {
                  setupRequest: ((req: { headers?: Record<string, string> }) => ({
                    ...req,
                    headers: { ...headers, 'idempotency-key': randomUUID() },
                  })) as never,
                },
              ]
            : undefined,
      });
    await run(WARM_UP_MS);
    const server0 = processCpu(child.pid!);
    const redis0 = await redisCpu(admin);
    const load0 = process.cpuUsage();
    const result = await run(DURATION_MS);
    const load = process.cpuUsage(load0);
    const redis = (await redisCpu(admin)) - redis0;
    const server = processCpu(child.pid!) - server0;
    const failed = result.non2xx + result.errors + result.timeouts;
    if (failed > 0) throw new Error(`${variant}: ${failed} requests failed`);
    const n = result.requests.total;
    return {
      server: (server * 1e6) / n,
      redis: (redis * 1e6) / n,
      load: (load.user + load.system) / n,
      rps: result.requests.average,
    };
  } finally {
    admin.disconnect();
    child.kill('SIGTERM');
    await exited;
  }
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
};

await withRedis(async (redisUrl) => {
  const splits = new Map<Variant, Split[]>(variants.map((v) => [v, []]));
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 ? [...variants].reverse() : variants;
    for (const variant of order) {
      const split = await measure(variant, redisUrl);
      splits.get(variant)!.push(split);
      console.error(
        `round ${round + 1} ${variant}: server ${split.server.toFixed(1)} µs, redis ${split.redis.toFixed(1)} µs, load ${split.load.toFixed(1)} µs, ${split.rps.toFixed(0)} req/s`,
      );
    }
  }
  console.log(`\n${MODE}: CPU µs per request, medians of ${ROUNDS} rounds`);
  console.log('variant        server   redis    load     sum    req/s');
  for (const [variant, list] of splits) {
    const m = (pick: (s: Split) => number) => median(list.map(pick));
    const row = [m((s) => s.server), m((s) => s.redis), m((s) => s.load)];
    row.push(m((s) => s.server + s.redis + s.load));
    const rps = m((s) => s.rps).toFixed(0);
    const cells = row.map((v) => v.toFixed(1).padStart(6)).join('  ');
    console.log(`${variant.padEnd(14)} ${cells}  ${rps.padStart(6)}`);
  }
});
