// The slow-instance scenario in simulated time: the balancer and resolver as shipped, a clock
// the simulation moves, servers that answer after a fixed delay (as bench/instances.ts does), a
// paced load. No machine in the loop, so the comparison of balancer settings is not drowned in the
// scheduling noise of a shared machine.
//   node bench/simulate.ts        → a table of p99 and slow share per setting
import {
  type Balancer,
  leastOutstanding,
  type Pick,
  p2cPeakEwma,
  resolver,
  roundRobin,
  staticRegistry,
} from '@ballast/discovery';

const RATE = 600; // requests per second
const WARM_UP_MS = 2_000;
const MEASURE_MS = 60_000;
const JITTER_MS = 1; // each answer takes its delay plus up to this much more

/** A clock the simulation sets; timers run when it passes them. */
class SimClock {
  time = 0;
  #timers: { at: number; fn: () => void; id: number }[] = [];
  #next = 1;
  now(): number {
    return this.time;
  }
  setTimeout(fn: () => void, ms: number): number {
    const id = this.#next++;
    this.#timers.push({ at: this.time + ms, fn, id });
    return id;
  }
  clearTimeout(id: unknown): void {
    this.#timers = this.#timers.filter((t) => t.id !== id);
  }
  set(time: number): void {
    this.time = time;
    const due = this.#timers.filter((t) => t.at <= time);
    this.#timers = this.#timers.filter((t) => t.at > time);
    for (const t of due) t.fn();
  }
}

/**
 * Stalls of the client's event loop (a GC pause, a noisy neighbour on a shared machine): during
 * one, nothing is sent and no answer is processed; everything waits for its end.
 */
function stallsFor(totalMs: number, perSecond: number): [number, number][] {
  const stalls: [number, number][] = [];
  if (perSecond === 0) return stalls;
  for (let t = 0; t < totalMs; ) {
    t += -Math.log(1 - Math.random()) * (1000 / perSecond);
    const length = 20 + Math.random() * 180;
    stalls.push([t, t + length]);
    t += length;
  }
  return stalls;
}

/** When the client gets to act on something due at `time`: the end of the stall it falls in. */
function after(stalls: [number, number][], time: number): number {
  for (const [start, end] of stalls) {
    if (time < start) return time;
    if (time < end) return end;
  }
  return time;
}

async function simulate(
  balancer: Balancer,
  delays: number[],
  stallsPerSecond = 0,
  recoverAtMs = Number.POSITIVE_INFINITY,
) {
  const clock = new SimClock();
  const registry = staticRegistry(
    delays.map((_, i) => ({ id: String(i), service: 's', address: '127.0.0.1', port: 1000 + i })),
  );
  const r = resolver({ registry, service: 's', balancer, clock });
  await r.ready();
  const pending: { at: number; pick: Pick; due: number }[] = [];
  const latencies: number[] = [];
  const buckets: [number, number][] = [];
  let toSlow = 0;
  let measured = 0;
  const interval = 1000 / RATE;
  const end = WARM_UP_MS + MEASURE_MS;
  const stalls = stallsFor(end + 1000, stallsPerSecond);
  const finishUntil = (time: number) => {
    pending.sort((a, b) => a.at - b.at);
    while (pending.length > 0 && pending[0]!.at <= time) {
      const done = pending.shift()!;
      clock.set(done.at);
      done.pick.done('success');
      if (done.due >= WARM_UP_MS) latencies.push(done.at - done.due);
    }
  };
  for (let due = 0; due < end; due += interval) {
    const sentAt = after(stalls, due);
    finishUntil(sentAt);
    clock.set(sentAt);
    const pick = r.pick();
    const index = Number(pick.instance.id);
    const last = index === delays.length - 1;
    if (due >= recoverAtMs) {
      const bucket = Math.floor((due - recoverAtMs) / 250);
      buckets[bucket] ??= [0, 0];
      buckets[bucket]![0]++;
      if (last) buckets[bucket]![1]++;
    }
    // The slow instance answers as fast as the others from recoverAtMs on.
    const delay = last && due >= recoverAtMs ? delays[0]! : delays[index]!;
    // The answer arrives after the server's delay; the client sees it when it is not stalled.
    const answered = sentAt + delay + Math.random() * JITTER_MS;
    pending.push({ at: after(stalls, answered), pick, due });
    if (due >= WARM_UP_MS) {
      measured++;
      if (index === delays.length - 1) toSlow++;
    }
  }
  finishUntil(Number.POSITIVE_INFINITY);
  await r.close();
  latencies.sort((a, b) => a - b);
  const p99 = latencies[Math.ceil(0.99 * latencies.length) - 1]!;
  // After recovery: the first 250 ms window in which it got at least 3/4 of a fair share.
  const fair = 1 / delays.length;
  const back = buckets.findIndex((b) => b !== undefined && b[1] / b[0] >= 0.75 * fair);
  return {
    p99,
    slowShare: (100 * toSlow) / measured,
    recoveredAfterMs: back < 0 ? undefined : back * 250,
  };
}

const slow = [10, 10, 10, 10, 100];
const healthy = [10, 10, 10, 10, 10];
const rows: [string, () => Balancer, number[]][] = [
  ['healthy (p2cPeakEwma default)', () => p2cPeakEwma(), healthy],
  ['p2cPeakEwma: 1 s, seeded from the first sample (default)', () => p2cPeakEwma(), slow],
  [
    'p2cPeakEwma: 10 s, 30 ms seed (Finagle/Linkerd)',
    () => p2cPeakEwma({ decayMs: 10_000, defaultRttMs: 30 }),
    slow,
  ],
  ['p2cPeakEwma: 10 s, seeded from the first sample', () => p2cPeakEwma({ decayMs: 10_000 }), slow],
  ['p2cPeakEwma: 1 s, 30 ms seed', () => p2cPeakEwma({ decayMs: 1_000, defaultRttMs: 30 }), slow],
  ['p2cPeakEwma: 3 s, seeded from the first sample', () => p2cPeakEwma({ decayMs: 3_000 }), slow],
  ['leastOutstanding', () => leastOutstanding(), slow],
  ['roundRobin', () => roundRobin(), slow],
];
const STALLS_PER_SECOND = Number(process.env.STALLS_PER_SECOND ?? 1);
console.log(
  `| setting | p99, quiet (ms) | slow share, quiet | p99, ${STALLS_PER_SECOND} stall/s (ms) | slow share, stalls | back to a fair share after recovery |`,
);
console.log('| --- | --- | --- | --- | --- | --- |');
for (const [name, make, delays] of rows) {
  const quiet = await simulate(make(), delays);
  const stalled = await simulate(make(), delays, STALLS_PER_SECOND);
  const recovery = await simulate(make(), delays, 0, WARM_UP_MS + 20_000);
  const back =
    recovery.recoveredAfterMs === undefined
      ? 'never (40 s)'
      : `${(recovery.recoveredAfterMs / 1000).toFixed(2)} s`;
  console.log(
    `| ${name} | ${quiet.p99.toFixed(1)} | ${quiet.slowShare.toFixed(2)} % | ${stalled.p99.toFixed(1)} | ${stalled.slowShare.toFixed(2)} % | ${back} |`,
  );
}
