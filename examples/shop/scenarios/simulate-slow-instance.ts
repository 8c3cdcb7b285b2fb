/**
 * Scenario 3 in simulated time, to choose the shop's balancing and hedging settings without the
 * scheduling noise of a shared machine deciding the comparison: the shipped resolver and
 * p2cPeakEwma, a clock the simulation moves, two orders clients with a resolver each over three
 * inventory instances, 15 checkouts/s (each a reservation then a commit call), healthy and slow
 * windows alternating (4 s each) as in the scenario, one instance 90 ms slower in slow windows.
 * Every answer takes 2 ms plus an exponential 3 ms, and one in fifty another 20–80 ms.
 *
 *   node examples/shop/scenarios/simulate-slow-instance.ts     → one line per setting: the ratio
 *                                                                 of slow to healthy p99 over runs
 * SIM_RUNS (default 12) runs per setting, SIM_WINDOWS (default 5) window pairs per run.
 */
import {
  type Pick,
  p2cPeakEwma,
  type Resolver,
  resolver,
  staticRegistry,
} from '@ballast/discovery';

interface Setting {
  name: string;
  decayMs: number;
  /** Extra attempts (0 = no hedging). */
  hedges: number;
  abortLosers: boolean;
}

const SETTINGS: Setting[] = [
  { name: 'no hedge, decay 1 s', decayMs: 1000, hedges: 0, abortLosers: true },
  { name: 'no hedge, decay 10 s', decayMs: 10_000, hedges: 0, abortLosers: true },
  { name: '1 hedge, decay 10 s, loser finishes', decayMs: 10_000, hedges: 1, abortLosers: false },
  { name: '2 hedges, decay 1 s, losers finish', decayMs: 1000, hedges: 2, abortLosers: false },
  { name: '2 hedges, decay 10 s, losers aborted', decayMs: 10_000, hedges: 2, abortLosers: true },
  {
    name: '2 hedges, decay 10 s, losers finish (the shop)',
    decayMs: 10_000,
    hedges: 2,
    abortLosers: false,
  },
];

const RUNS = Number(process.env.SIM_RUNS ?? 12);
const WINDOWS = Number(process.env.SIM_WINDOWS ?? 5);
const WINDOW_MS = 4000;
const RATE = 15;

/** A clock the simulation moves; timers run in time order. */
class SimClock {
  time = 0;
  #timers: { at: number; seq: number; fn: () => void }[] = [];
  #seq = 0;
  now(): number {
    return this.time;
  }
  setTimeout(fn: () => void, ms: number): unknown {
    const timer = { at: this.time + ms, seq: this.#seq++, fn };
    this.#timers.push(timer);
    return timer;
  }
  clearTimeout(timer: unknown): void {
    const i = this.#timers.indexOf(timer as never);
    if (i >= 0) this.#timers.splice(i, 1);
  }
  runUntil(end: number): void {
    for (;;) {
      let next = -1;
      for (let i = 0; i < this.#timers.length; i++) {
        const t = this.#timers[i]!;
        const best = this.#timers[next];
        if (best === undefined || t.at < best.at || (t.at === best.at && t.seq < best.seq))
          next = i;
      }
      const timer = this.#timers[next];
      if (timer === undefined || timer.at > end) break;
      this.#timers.splice(next, 1);
      this.time = timer.at;
      timer.fn();
    }
    this.time = end;
  }
}

const serviceTime = () =>
  2 + -Math.log(1 - Math.random()) * 3 + (Math.random() < 0.02 ? 20 + Math.random() * 60 : 0);

const quantile = (values: number[], q: number) =>
  [...values].sort((a, b) => a - b)[Math.ceil(q * values.length) - 1]!;

async function simulate(setting: Setting): Promise<number> {
  const clock = new SimClock();
  const registry = staticRegistry(
    [0, 1, 2].map((i) => ({
      id: `inventory-${i + 1}`,
      service: 'inventory',
      address: '127.0.0.1',
      port: 1000 + i,
    })),
  );
  const clients: { r: Resolver; recent: number[] }[] = [];
  for (let i = 0; i < 2; i++) {
    const r = resolver({
      registry,
      service: 'inventory',
      clock,
      balancer: p2cPeakEwma({ decayMs: setting.decayMs }),
      ejection: {
        consecutiveFailures: 3,
        baseEjectionMs: 5000,
        maxEjectionMs: 30_000,
        maxEjectionPercent: 50,
      },
    });
    await r.ready();
    clients.push({ r, recent: [] });
  }
  let slow = false;

  /** One call, hedged as `setting` says; `done` gets its latency. */
  const call = (client: (typeof clients)[number], done: (ms: number) => void) => {
    const start = clock.now();
    const picks: Pick[] = [];
    let finished = false;
    let timer: unknown;
    const sorted = [...client.recent].sort((a, b) => a - b);
    const delay = sorted.length < 20 ? 25 : sorted[Math.floor(0.9 * sorted.length)]!;
    const attempt = () => {
      const pick = client.r.pick();
      picks.push(pick);
      const ms = serviceTime() + (slow && pick.instance.id === 'inventory-1' ? 90 : 0);
      clock.setTimeout(() => {
        if (finished) {
          if (!setting.abortLosers) pick.done('success');
          return;
        }
        finished = true;
        if (timer !== undefined) clock.clearTimeout(timer);
        pick.done('success');
        if (setting.abortLosers)
          for (const other of picks) if (other !== pick) other.done('cancelled');
        const latency = clock.now() - start;
        client.recent.push(latency);
        if (client.recent.length > 100) client.recent.shift();
        done(latency);
      }, ms);
    };
    const hedge = () => {
      timer = undefined;
      if (finished) return;
      attempt();
      if (picks.length <= setting.hedges) timer = clock.setTimeout(hedge, delay);
    };
    attempt();
    if (setting.hedges > 0) timer = clock.setTimeout(hedge, delay);
  };

  const healthy: number[] = [];
  const slowPhase: number[] = [];
  let t = 0;
  for (let w = 0; w < 2 * WINDOWS; w++) {
    const isSlow = w % 2 === 1;
    clock.setTimeout(() => {
      slow = isSlow;
    }, t);
    for (let i = 0; i < (WINDOW_MS / 1000) * RATE; i++)
      clock.setTimeout(
        () => {
          const client = clients[Math.random() < 0.5 ? 0 : 1]!;
          const start = clock.now();
          const into = slow ? slowPhase : healthy;
          // a checkout: 15 ms of other work, then the reservation, then the commit
          call(client, () => call(client, () => into.push(15 + clock.now() - start)));
        },
        t + (i * 1000) / RATE,
      );
    t += WINDOW_MS;
  }
  clock.runUntil(t + 2000);
  for (const client of clients) await client.r.close();
  return quantile(slowPhase, 0.99) / quantile(healthy, 0.99);
}

for (const setting of SETTINGS) {
  const ratios: number[] = [];
  for (let i = 0; i < RUNS; i++) ratios.push(await simulate(setting));
  ratios.sort((a, b) => a - b);
  const over = ratios.filter((r) => r > 1.5).length;
  console.log(
    `${setting.name.padEnd(48)} p99 slow/healthy: median ${quantile(ratios, 0.5).toFixed(2)}, worst ${ratios.at(-1)!.toFixed(2)}; over 1.5x in ${over} of ${RUNS} runs`,
  );
}
