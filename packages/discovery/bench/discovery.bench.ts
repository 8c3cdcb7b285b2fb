import { type BenchCase, defineBench, nsPerOp } from '@ballast/bench';
import {
  type Balancer,
  leastOutstanding,
  p2cPeakEwma,
  resolver,
  roundRobin,
  staticRegistry,
} from '@ballast/discovery';
import { discoveryDispatcher } from '@ballast/discovery/undici';
import { BalancedPool, type Dispatcher, Pool, request } from 'undici';
import { closedLoop, type Fleet, pacedLoad, percentile, type Sent, startFleet } from './support.ts';

// slow-instance: 5 instances, 4 answering in 10 ms and one in 100 ms, under a paced (open-loop)
// load of RATE requests/s — about a quarter of what this 2-core machine sustains in a closed loop
// through the same stack. A saturated closed loop measures the machine, not the balancer.
const RATE = Number(process.env.DISCOVERY_BENCH_RATE ?? 600);
const WARM_UP_MS = 2_000;
const MEASURE_MS = 6_000;
const FAST_MS = 10;
const SLOW_MS = 100;

// killed-instance: 5 instances answering in 10 ms, idempotent GETs at KILL_RATE/s; one instance
// is killed (server closed, sockets destroyed) 1.5 s into the measured window.
const KILL_RATE = 400;
const KILL_MEASURE_MS = 4_000;
const KILL_AT_MS = 1_500;

// ballast-p2c-peak-ewma's parameters can be overridden to compare decays (see the README).
const p2cOptions = {
  decayMs: process.env.DISCOVERY_BENCH_DECAY_MS
    ? Number(process.env.DISCOVERY_BENCH_DECAY_MS)
    : undefined,
  defaultRttMs: process.env.DISCOVERY_BENCH_DEFAULT_RTT_MS
    ? Number(process.env.DISCOVERY_BENCH_DEFAULT_RTT_MS)
    : undefined,
};

function registryFor(fleet: Fleet) {
  return staticRegistry(
    fleet.ports.map((port, index) => ({
      id: `i${index}`,
      service: 'orders',
      address: '127.0.0.1',
      port,
    })),
  );
}

/** One GET through `dispatcher`: the answering instance's index, or undefined on a non-200. */
async function viaDispatcher(dispatcher: Dispatcher, url: string): Sent {
  const response = await request(url, { dispatcher });
  await response.body.dump();
  return response.statusCode === 200 ? String(response.headers['x-instance']) : undefined;
}

function ballast(fleet: Fleet, balancer: Balancer) {
  const dispatcher = discoveryDispatcher({ registry: registryFor(fleet), balancer });
  return {
    send: () => viaDispatcher(dispatcher, 'http://orders/'),
    close: () => dispatcher.close(),
  };
}

function balancedPool(fleet: Fleet) {
  const pool = new BalancedPool(fleet.ports.map((port) => `http://127.0.0.1:${port}`));
  return {
    send: () => viaDispatcher(pool, `http://127.0.0.1:${fleet.ports[0]}/`),
    close: () => pool.close(),
  };
}

type Client = { send: () => Sent; close: () => Promise<void> };

async function paced(
  delays: number[],
  makeClient: (fleet: Fleet) => Client,
  measure: (result: Awaited<ReturnType<typeof pacedLoad>>) => number,
): Promise<number> {
  const fleet = await startFleet(delays);
  const client = makeClient(fleet);
  try {
    const result = await pacedLoad(client.send, {
      ratePerSecond: RATE,
      warmUpMs: WARM_UP_MS,
      durationMs: MEASURE_MS,
    });
    if (result.failures > 0) throw new Error(`${result.failures} requests failed`);
    return measure(result);
  } finally {
    await client.close();
    await fleet.stop();
  }
}

const SLOW_FLEET = [FAST_MS, FAST_MS, FAST_MS, FAST_MS, SLOW_MS];
const HEALTHY_FLEET = [FAST_MS, FAST_MS, FAST_MS, FAST_MS, FAST_MS];
const p99 = (result: { latencies: number[] }) => percentile(result.latencies, 99);

function slowInstance(
  name: string,
  delays: number[],
  makeClient: (fleet: Fleet) => Client,
): BenchCase {
  return {
    group: 'slow-instance',
    name,
    unit: 'ms p99',
    lowerIsBetter: true,
    reference: name === 'healthy' ? true : undefined,
    run: () => paced(delays, makeClient, p99),
  } as BenchCase;
}

async function killedInstance(makeClient: (fleet: Fleet) => Client): Promise<number> {
  const fleet = await startFleet(HEALTHY_FLEET);
  const client = makeClient(fleet);
  try {
    const result = await pacedLoad(client.send, {
      ratePerSecond: KILL_RATE,
      warmUpMs: WARM_UP_MS,
      durationMs: KILL_MEASURE_MS,
      at: { ms: KILL_AT_MS, action: () => fleet.kill(2) },
    });
    return result.failures;
  } finally {
    await client.close();
    await fleet.stop();
  }
}

async function overhead(variant: 'bare' | 'ballast'): Promise<number> {
  const fleet = await startFleet([0]);
  const origin = `http://127.0.0.1:${fleet.ports[0]}`;
  const client: Client =
    variant === 'bare'
      ? (() => {
          const pool = new Pool(origin);
          return { send: () => viaDispatcher(pool, `${origin}/`), close: () => pool.close() };
        })()
      : ballast(fleet, p2cPeakEwma());
  try {
    return await closedLoop(client.send, { concurrency: 32, warmUpMs: 1_000, durationMs: 3_000 });
  } finally {
    await client.close();
    await fleet.stop();
  }
}

async function pickNs(balancer: Balancer): Promise<number> {
  const registry = staticRegistry(
    Array.from({ length: 1000 }, (_, i) => ({
      service: 'orders',
      address: `10.0.${i >> 8}.${i & 255}`,
      port: 8080,
    })),
  );
  const r = resolver({ registry, service: 'orders', balancer });
  await r.ready();
  // A pick and its report (done), as every request makes them.
  const ns = await nsPerOp(() => r.pick().done('success'), {
    iterations: 200_000,
    warmup: 100_000,
  });
  await r.close();
  return ns;
}

export default defineBench([
  slowInstance('healthy', HEALTHY_FLEET, (fleet) => ballast(fleet, p2cPeakEwma(p2cOptions))),
  slowInstance('ballast-p2c-peak-ewma', SLOW_FLEET, (fleet) =>
    ballast(fleet, p2cPeakEwma(p2cOptions)),
  ),
  slowInstance('ballast-least-outstanding', SLOW_FLEET, (fleet) =>
    ballast(fleet, leastOutstanding()),
  ),
  slowInstance('ballast-round-robin', SLOW_FLEET, (fleet) => ballast(fleet, roundRobin())),
  slowInstance('undici-balanced-pool', SLOW_FLEET, balancedPool),
  {
    group: 'slow-instance',
    name: 'ballast-p2c-peak-ewma-slow-share',
    unit: '% to slow',
    lowerIsBetter: true,
    run: () =>
      paced(
        SLOW_FLEET,
        (fleet) => ballast(fleet, p2cPeakEwma(p2cOptions)),
        (result) =>
          (100 * result.answeredBy.filter((instance) => instance === '4').length) /
          result.answeredBy.length,
      ),
  },
  {
    group: 'killed-instance',
    name: 'ballast',
    unit: 'failed requests',
    lowerIsBetter: true,
    run: () => killedInstance((fleet) => ballast(fleet, p2cPeakEwma())),
  },
  {
    group: 'killed-instance',
    name: 'undici-balanced-pool',
    unit: 'failed requests',
    lowerIsBetter: true,
    reference: true,
    run: () => killedInstance(balancedPool),
  },
  {
    group: 'overhead',
    name: 'bare',
    unit: 'req/s',
    lowerIsBetter: false,
    run: () => overhead('bare'),
  },
  {
    group: 'overhead',
    name: 'ballast',
    unit: 'req/s',
    lowerIsBetter: false,
    run: () => overhead('ballast'),
  },
  {
    group: 'pick',
    name: 'ballast-p2c-peak-ewma',
    unit: 'ns/op',
    lowerIsBetter: true,
    run: () => pickNs(p2cPeakEwma()),
  },
  {
    group: 'pick',
    name: 'ballast-round-robin',
    unit: 'ns/op',
    lowerIsBetter: true,
    run: () => pickNs(roundRobin()),
  },
]);
