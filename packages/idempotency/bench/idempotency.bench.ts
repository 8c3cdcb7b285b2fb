import { randomUUID } from 'node:crypto';
import { type BenchCase, defineBench, requestsPerSecond } from '@ballast/bench';
import { Redis } from 'ioredis';
import { pay, startVariant, VARIANTS, type Variant, withRedis } from './support.ts';

const DURATION_MS = 2_000;
// Load before the measured window, discarded: every variant is measured warm (JIT-compiled, Redis
// scripts loaded, connections open). Without it a 2 s window mostly measures start-up, which
// penalises whichever server has more code to compile.
const WARM_UP_MS = 1_000;
const ROUND_TRIP_REQUESTS = 200;
const body = JSON.stringify({ amount: 100 });
const headers = { 'content-type': 'application/json' };

/** req/s of one variant: `fresh` sends a new key per request, `replay` one key that completed. */
async function throughput(variant: Variant, mode: 'fresh' | 'replay'): Promise<number> {
  return withRedis(async (redisUrl) => {
    const server = await startVariant(variant, redisUrl);
    try {
      const url = `${server.url}/payments`;
      if (mode === 'fresh') {
        const load = {
          url,
          method: 'POST',
          headers,
          body,
          setupRequest: (req: { headers?: Record<string, string>; body?: string }) => ({
            ...req,
            headers: { ...headers, 'idempotency-key': randomUUID() },
          }),
        };
        await requestsPerSecond({ ...load, durationMs: WARM_UP_MS });
        return await requestsPerSecond({ ...load, durationMs: DURATION_MS });
      }
      const key = randomUUID();
      const first = await pay(server.url, key);
      if (first !== 201) throw new Error(`${variant}: first request answered ${first}`);
      const load = { url, method: 'POST', headers: { ...headers, 'idempotency-key': key }, body };
      await requestsPerSecond({ ...load, durationMs: WARM_UP_MS });
      return await requestsPerSecond({ ...load, durationMs: DURATION_MS });
    } finally {
      await server.stop();
    }
  });
}

/**
 * Redis commands per request, counted by Redis itself: MONITOR lists every command a client sends
 * (commands a Lua script runs are marked "lua" and are not round trips, so they are left out).
 */
async function roundTrips(variant: Variant, mode: 'first' | 'replay'): Promise<number> {
  return withRedis(async (redisUrl) => {
    const server = await startVariant(variant, redisUrl);
    const monitor = await new Redis(redisUrl).monitor();
    const admin = new Redis(redisUrl);
    try {
      const key = randomUUID();
      if (mode === 'replay') await pay(server.url, key);
      await settle(monitor, admin); // fire-and-forget writes of the warm-up are done
      let commands = 0;
      monitor.on('monitor', (_time: string, args: string[], source: string) => {
        if (!source.includes('lua') && args.some((a) => a.includes(server.prefix))) commands++;
      });
      for (let i = 0; i < ROUND_TRIP_REQUESTS; i++) {
        const status = await pay(server.url, mode === 'first' ? randomUUID() : key);
        if (status !== 201) throw new Error(`${variant}: answered ${status}`);
      }
      await settle(monitor, admin);
      return commands / ROUND_TRIP_REQUESTS;
    } finally {
      monitor.disconnect();
      admin.disconnect();
      await server.stop();
    }
  });
}

/**
 * Waits until MONITOR has shown a marker command sent after everything before it (Redis runs
 * commands one at a time, so every earlier command has been shown too).
 */
async function settle(monitor: Redis, admin: Redis): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 50));
  const marker = `marker-${randomUUID()}`;
  const seen = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('MONITOR did not show the marker')), 5_000);
    const onCommand = (_time: string, args: string[]) => {
      if (args.includes(marker)) {
        clearTimeout(timer);
        monitor.off('monitor', onCommand);
        resolve();
      }
    };
    monitor.on('monitor', onCommand);
  });
  await admin.echo(marker);
  await seen;
}

const cases: BenchCase[] = [];
for (const group of ['fresh', 'replay'] as const) {
  for (const name of VARIANTS) {
    cases.push({
      group,
      name,
      unit: 'req/s',
      lowerIsBetter: false,
      run: () => throughput(name, group),
    });
  }
}
for (const name of VARIANTS.filter((v) => v !== 'bare')) {
  for (const mode of ['first', 'replay'] as const) {
    cases.push({
      group: 'round-trips',
      name: `${name}-${mode}`,
      unit: 'Redis commands/request',
      lowerIsBetter: true,
      run: () => roundTrips(name, mode),
    });
  }
}

export default defineBench(cases);
