import { randomUUID } from 'node:crypto';
import { type BenchCase, countingProxy, defineBench, requestsPerSecond } from '@ballast/bench';
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
 * Redis commands per request, counted on the wire by a proxy between the server and Redis
 * (commands a Lua script runs inside Redis are not round trips and never cross it).
 */
async function roundTrips(variant: Variant, mode: 'first' | 'replay'): Promise<number> {
  return withRedis(async (redisUrl) => {
    const prefix = `bench-idem:${randomUUID()}:`;
    const proxy = await countingProxy(redisUrl, prefix);
    const server = await startVariant(variant, proxy.url, {}, prefix);
    try {
      const key = randomUUID();
      if (mode === 'replay') await pay(server.url, key);
      await proxy.quiet(); // fire-and-forget writes of the warm-up are done
      const before = proxy.count();
      for (let i = 0; i < ROUND_TRIP_REQUESTS; i++) {
        const status = await pay(server.url, mode === 'first' ? randomUUID() : key);
        if (status !== 201) throw new Error(`${variant}: answered ${status}`);
      }
      await proxy.quiet();
      return (proxy.count() - before) / ROUND_TRIP_REQUESTS;
    } finally {
      await server.stop();
      await proxy.close();
    }
  });
}

const cases: BenchCase[] = [];
for (const group of ['fresh', 'replay'] as const) {
  for (const name of VARIANTS) {
    cases.push({
      group,
      name,
      unit: 'req/s',
      lowerIsBetter: false,
      // Issue 20 states its targets against the Redis floor: the report gives every variant's
      // same-round ratio to it (median and range over the rounds).
      reference: name === 'redis-floor',
      run: () => throughput(name, group),
    });
  }
}
for (const name of VARIANTS.filter((v) => v !== 'bare' && v !== 'fenced-floor')) {
  for (const mode of ['first', 'replay'] as const) {
    cases.push({
      group: 'round-trips',
      name: `${name}-${mode}`,
      unit: 'Redis commands/request',
      lowerIsBetter: true,
      rounds: 1, // a count, the same every round: one round is enough
      run: () => roundTrips(name, mode),
    });
  }
}

export default defineBench(cases);
