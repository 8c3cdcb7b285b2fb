import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** Servers of bench/instances.ts, in a child process. */
export interface Fleet {
  readonly ports: readonly number[];
  /** Closes server `index` and destroys its sockets. */
  kill(index: number): void;
  stop(): Promise<void>;
}

/** Starts one server per delay (ms) in a process of its own. */
export function startFleet(delays: readonly number[]): Promise<Fleet> {
  const file = fileURLToPath(new URL('./instances.ts', import.meta.url));
  return new Promise((resolve, reject) => {
    const child: ChildProcess = spawn(process.execPath, [file, delays.join(',')], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    const exited = new Promise<void>((done) => child.once('exit', () => done()));
    let out = '';
    const onData = (chunk: Buffer): void => {
      out += chunk.toString();
      const match = /listening (\S+)/.exec(out);
      if (!match) return;
      child.stdout?.off('data', onData);
      child.stdout?.resume();
      resolve({
        ports: match[1]!.split(',').map(Number),
        kill: (index) => child.stdin?.write(`kill ${index}\n`),
        stop: async () => {
          child.kill('SIGTERM');
          await exited;
        },
      });
    };
    child.stdout?.on('data', onData);
    child.once('exit', (code) => reject(new Error(`fleet exited with ${code} before listening`)));
  });
}

/** What one request returned: the instance that answered, or a failure. */
export type Sent = Promise<string | undefined>;

/** Result of a paced run, for the requests sent after the warm-up. */
export interface PacedResult {
  /** Latency of each request, from the moment it was due (so a stalled loop counts), in ms. */
  readonly latencies: number[];
  /** Requests that failed (an error, or a status other than 200). */
  readonly failures: number;
  /** Which instance answered each successful request. */
  readonly answeredBy: string[];
}

/**
 * Open-loop load: requests are due at a fixed rate whatever happens to earlier ones (a closed loop
 * slows down with the server and hides its tail). Latency is measured from the due time.
 */
export async function pacedLoad(
  send: () => Sent,
  options: {
    ratePerSecond: number;
    warmUpMs: number;
    durationMs: number;
    /** Called once, this long after the measured window started. */
    at?: { ms: number; action: () => void } | undefined;
  },
): Promise<PacedResult> {
  const { ratePerSecond, warmUpMs, durationMs, at } = options;
  const interval = 1000 / ratePerSecond;
  const start = performance.now();
  const measuredFrom = start + warmUpMs;
  const end = measuredFrom + durationMs;
  const latencies: number[] = [];
  const answeredBy: string[] = [];
  let failures = 0;
  let sent = 0;
  let actionDone = at === undefined;
  const inFlight = new Set<Promise<void>>();
  await new Promise<void>((resolve) => {
    const tick = (): void => {
      const now = performance.now();
      if (!actionDone && at !== undefined && now >= measuredFrom + at.ms) {
        actionDone = true;
        at.action();
      }
      while (start + sent * interval <= Math.min(now, end)) {
        const due = start + sent * interval;
        sent++;
        const measured = due >= measuredFrom;
        const request = send().then(
          (instance) => {
            if (!measured) return;
            latencies.push(performance.now() - due);
            if (instance === undefined) failures++;
            else answeredBy.push(instance);
          },
          () => {
            if (measured) failures++;
          },
        );
        const tracked = request.finally(() => inFlight.delete(tracked));
        inFlight.add(tracked);
      }
      if (now >= end) {
        clearInterval(timer);
        resolve();
      }
    };
    const timer = setInterval(tick, 1);
  });
  await Promise.all(inFlight);
  return { latencies, failures, answeredBy };
}

/** The p-th percentile (0–100) of `values`. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) throw new Error('no samples');
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1);
  return sorted[Math.max(0, rank)]!;
}

/** Closed-loop requests per second: `concurrency` loops, each sending the next when one ends. */
export async function closedLoop(
  send: () => Sent,
  options: { concurrency: number; warmUpMs: number; durationMs: number },
): Promise<number> {
  const run = async (ms: number): Promise<number> => {
    const stopAt = performance.now() + ms;
    let done = 0;
    await Promise.all(
      Array.from({ length: options.concurrency }, async () => {
        while (performance.now() < stopAt) {
          const instance = await send();
          if (instance === undefined) throw new Error('a request failed in the overhead run');
          done++;
        }
      }),
    );
    return done / (ms / 1000);
  };
  await run(options.warmUpMs);
  return run(options.durationMs);
}
