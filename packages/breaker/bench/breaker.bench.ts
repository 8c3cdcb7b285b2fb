import { collectGarbage, defineBench, nsPerOp } from '@ballast/bench';
import { circuitBreaker, createBreakerRegistry } from '@ballast/breaker';
import { ConsecutiveBreaker, circuitBreaker as cockatielBreaker, handleAll } from 'cockatiel';
import CircuitBreaker from 'opossum';

// Each case runs in a process of its own (see bench/src/run.ts), so variants never share a heap.

const BREAKERS = 10_000;

/** The dependency: an async call that resolves. */
async function work(): Promise<number> {
  return 1;
}

const down = new Error('dependency down');
/** A dependency that fails (one shared error, so the bench measures the breaker, not `new Error`). */
async function failing(): Promise<number> {
  throw down;
}
const swallow = (): void => {};

/** Cockatiel configured as its README shows. */
function cockatielPolicy() {
  return cockatielBreaker(handleAll, {
    halfOpenAfter: 10_000,
    breaker: new ConsecutiveBreaker(5),
  });
}

/** Opossum configured as its README shows. */
function opossumBreaker() {
  return new CircuitBreaker(work, {
    timeout: 3000,
    errorThresholdPercentage: 50,
    resetTimeout: 30_000,
  });
}

/** Active timers (Node's `Timeout` resources) in this process; unref'd timers are not listed. */
function activeTimers(): number {
  return process.getActiveResourcesInfo().filter((kind) => kind === 'Timeout').length;
}

/**
 * Runs `build` while counting every timer it schedules (setTimeout, setInterval, setImmediate,
 * ref'd or not), and checks the active-resources list too.
 */
async function countingTimers<T>(build: () => Promise<T>): Promise<{ value: T; timers: number }> {
  const scheduled = { count: 0 };
  const original = {
    setTimeout: globalThis.setTimeout,
    setInterval: globalThis.setInterval,
    setImmediate: globalThis.setImmediate,
  };
  for (const name of ['setTimeout', 'setInterval', 'setImmediate'] as const) {
    const real = original[name] as (...args: unknown[]) => unknown;
    (globalThis as Record<string, unknown>)[name] = (...args: unknown[]) => {
      scheduled.count++;
      return real(...args);
    };
  }
  const activeBefore = activeTimers();
  try {
    const value = await build();
    return { value, timers: scheduled.count + Math.max(0, activeTimers() - activeBefore) };
  } finally {
    Object.assign(globalThis, original);
  }
}

/**
 * Bytes retained by what `build()` returns, after full GCs: JS heap plus array buffers (a
 * breaker's window may live in one, outside the JS heap).
 */
async function retainedBytes(build: () => Promise<unknown>): Promise<number> {
  collectGarbage();
  const before = process.memoryUsage();
  const kept = await build();
  collectGarbage();
  const after = process.memoryUsage();
  if (kept === Symbol.for('never')) console.log(kept);
  return after.heapUsed - before.heapUsed + (after.arrayBuffers - before.arrayBuffers);
}

export default defineBench([
  {
    group: 'closed',
    name: 'bare',
    unit: 'ns/op',
    lowerIsBetter: true,
    run: () => nsPerOp(() => work()),
  },
  {
    group: 'closed',
    name: 'ballast',
    unit: 'ns/op',
    lowerIsBetter: true,
    run: () => {
      const breaker = circuitBreaker();
      return nsPerOp(() => breaker.execute(work));
    },
  },
  {
    group: 'closed',
    name: 'cockatiel',
    unit: 'ns/op',
    lowerIsBetter: true,
    run: () => {
      const policy = cockatielPolicy();
      return nsPerOp(() => policy.execute(work));
    },
  },
  {
    group: 'closed',
    name: 'opossum',
    unit: 'ns/op',
    lowerIsBetter: true,
    run: async () => {
      const breaker = opossumBreaker();
      const value = await nsPerOp(() => breaker.fire());
      breaker.shutdown();
      return value;
    },
  },
  {
    group: 'keyed-10k',
    name: 'ballast',
    unit: 'bytes',
    lowerIsBetter: true,
    run: async () => {
      const { value: bytes, timers } = await countingTimers(() =>
        retainedBytes(async () => {
          const breakers = createBreakerRegistry({ maxBreakers: BREAKERS });
          for (let i = 0; i < BREAKERS; i++) await breakers.get(`host-${i}`).execute(work);
          return breakers;
        }),
      );
      if (timers !== 0)
        throw new Error(`ballast scheduled ${timers} timers for ${BREAKERS} breakers`);
      console.error(`keyed-10k/ballast: ${timers} timers scheduled`);
      return bytes;
    },
  },
  {
    group: 'keyed-10k',
    name: 'cockatiel',
    unit: 'bytes',
    lowerIsBetter: true,
    run: async () => {
      const { value: bytes, timers } = await countingTimers(() =>
        retainedBytes(async () => {
          const breakers = new Map<string, ReturnType<typeof cockatielPolicy>>();
          for (let i = 0; i < BREAKERS; i++) {
            const policy = cockatielPolicy();
            breakers.set(`host-${i}`, policy);
            await policy.execute(work);
          }
          return breakers;
        }),
      );
      console.error(`keyed-10k/cockatiel: ${timers} timers scheduled`);
      return bytes;
    },
  },
  {
    group: 'keyed-10k',
    name: 'opossum',
    unit: 'bytes',
    lowerIsBetter: true,
    run: async () => {
      let kept: Map<string, CircuitBreaker> | undefined;
      const { value: bytes, timers } = await countingTimers(() =>
        retainedBytes(async () => {
          const breakers = new Map<string, CircuitBreaker>();
          for (let i = 0; i < BREAKERS; i++) {
            const breaker = opossumBreaker();
            breakers.set(`host-${i}`, breaker);
            await breaker.fire();
          }
          kept = breakers;
          return breakers;
        }),
      );
      console.error(`keyed-10k/opossum: ${timers} timers scheduled`);
      for (const breaker of kept!.values()) breaker.shutdown();
      return bytes;
    },
  },
  {
    group: 'failure-window',
    name: 'ballast-100',
    unit: 'ns/op',
    lowerIsBetter: true,
    run: () => failureWindow(100),
  },
  {
    group: 'failure-window',
    name: 'ballast-100k',
    unit: 'ns/op',
    lowerIsBetter: true,
    run: () => failureWindow(100_000),
  },
]);

/** ns per failed call with `windowSize` calls in a full window (METRICS_ONLY: it records, never trips). */
async function failureWindow(windowSize: number): Promise<number> {
  const breaker = circuitBreaker({ windowSize });
  breaker.transitionTo('METRICS_ONLY');
  for (let i = 0; i < windowSize; i++) await breaker.execute(failing).catch(swallow);
  const value = await nsPerOp(() => breaker.execute(failing).catch(swallow));
  const { calls, failedCalls } = breaker.metrics();
  if (calls !== windowSize || failedCalls !== windowSize) {
    throw new Error(`window holds ${failedCalls}/${calls} failures, expected ${windowSize}`);
  }
  return value;
}
