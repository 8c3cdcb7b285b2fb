import { type BenchCase, defineBench } from '@ballast/bench';
import { acquireLease, redisLeaseBackend } from '@ballast/discovery/lease';
import { startRedisServer } from '@ballast/test-utils';
import { Redis } from 'ioredis';

// lease: acquire + release round trips per second on one Redis (a private redis-server on
// 127.0.0.1, or REDIS_URL), through one ioredis client, WORKERS loops each on a key of its own
// (no contention: the cost of a hold, not of waiting). Every variant takes a hold with a TTL and
// gives it back with a compare-and-delete — two round trips. Ballast also hands out a fencing token
// and schedules the renewal and the safety deadline of each lease; `ballast-with-signal` also reads
// `lease.signal` (created on first read), as a worker that hands it to its work does.
const WORKERS = 8;
const TTL_MS = 10_000;
const WARM_UP_MS = 1_000;
const MEASURE_MS = 4_000;

type Cycle = (key: string) => Promise<void>;

async function withRedis<T>(fn: (url: string) => Promise<T>): Promise<T> {
  if (process.env.REDIS_URL) return fn(process.env.REDIS_URL);
  const redis = await startRedisServer();
  try {
    return await fn(redis.url);
  } finally {
    await redis.stop();
  }
}

type Metric = 'ops/s' | 'µs CPU/op';

/**
 * Acquire+release cycles per second of `make(client)`'s cycle, WORKERS at once; or the CPU time
 * (user + system) this process spent per cycle — the client side's own cost, which a loaded
 * machine disturbs far less than a rate.
 */
function roundTrips(
  make: (client: Redis, prefix: string) => Cycle,
  metric: Metric,
): Promise<number> {
  return withRedis(async (url) => {
    const client = new Redis(url);
    const cycle = make(client, `bench-lease:${process.pid}:`);
    const run = async (ms: number): Promise<number> => {
      const stopAt = performance.now() + ms;
      const cpu = process.cpuUsage();
      let done = 0;
      await Promise.all(
        Array.from({ length: WORKERS }, async (_, worker) => {
          while (performance.now() < stopAt) {
            await cycle(`job-${worker}`);
            done++;
          }
        }),
      );
      if (metric === 'ops/s') return done / (ms / 1000);
      const used = process.cpuUsage(cpu);
      return (used.user + used.system) / done;
    };
    try {
      await run(WARM_UP_MS);
      return await run(MEASURE_MS);
    } finally {
      await client.quit();
    }
  });
}

function ballast(client: Redis, prefix: string): Cycle {
  const backend = redisLeaseBackend({ client, prefix });
  return async (key) => {
    const lease = await acquireLease(backend, key, { ttlMs: TTL_MS });
    if (!(await lease.release())) throw new Error('ballast: release did not delete the hold');
  };
}

/** As a worker uses a lease: it hands `lease.signal` to its work (here: only reads it). */
function ballastWithSignal(client: Redis, prefix: string): Cycle {
  const backend = redisLeaseBackend({ client, prefix });
  return async (key) => {
    const lease = await acquireLease(backend, key, { ttlMs: TTL_MS });
    if (lease.signal.aborted) throw new Error('ballast: lost a lease nobody contends for');
    if (!(await lease.release())) throw new Error('ballast: release did not delete the hold');
  };
}

async function redlock(client: Redis, prefix: string): Promise<Cycle> {
  // redlock 4 (the current npm release): lock(resource, ttl) / lock.unlock().
  const untyped = 'redlock'; // redlock 4 ships no types
  const { default: Redlock } = (await import(untyped)) as {
    default: new (
      clients: Redis[],
      options: object,
    ) => { lock(resource: string, ttl: number): Promise<{ unlock(): Promise<unknown> }> };
  };
  const locks = new Redlock([client], { retryCount: 0, driftFactor: 0.01 });
  return async (key) => {
    const lock = await locks.lock(`${prefix}${key}`, TTL_MS);
    await lock.unlock();
  };
}

async function sesamecare(client: Redis, prefix: string): Promise<Cycle> {
  const { Redlock } = await import('@sesamecare-oss/redlock');
  const locks = new Redlock([client], { retryCount: 0 });
  return async (key) => {
    const lock = await locks.acquire([`${prefix}${key}`], TTL_MS);
    await lock.release();
  };
}

function lease(
  name: string,
  make: (client: Redis, prefix: string) => Cycle | Promise<Cycle>,
  metric: Metric = 'ops/s',
) {
  return {
    group: metric === 'ops/s' ? 'lease' : 'lease-cpu',
    name,
    unit: metric,
    lowerIsBetter: metric !== 'ops/s',
    reference: name === 'redlock' ? true : undefined,
    run: async () => {
      let cycle: Cycle | undefined;
      return roundTrips((client, prefix) => {
        const made = make(client, prefix);
        // Resolve an async setup on the first cycle (the warm-up pays for it).
        return async (key) => {
          cycle ??= await made;
          await cycle(key);
        };
      }, metric);
    },
  } as BenchCase;
}

export default defineBench(
  (['ops/s', 'µs CPU/op'] as const).flatMap((metric) => [
    lease('ballast', ballast, metric),
    lease('ballast-with-signal', ballastWithSignal, metric),
    lease('redlock', redlock, metric),
    lease('sesamecare-redlock', sesamecare, metric),
  ]),
);
