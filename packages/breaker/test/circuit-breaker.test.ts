import { getEventListeners } from 'node:events';
import { ManualClock } from '@ballast/test-utils';
import { describe, expect, expectTypeOf, it } from 'vitest';
import {
  AbortedError,
  type AttemptContext,
  type BreakerMetrics,
  BreakerOpenError,
  type BreakerOptions,
  type BreakerStateName,
  type CircuitBreaker,
  circuitBreaker,
  isBreakerError,
  type Policy,
  type StateChangeEvent,
} from '../src/index.ts';

const boom = new Error('dependency down');
const ok = async () => 'ok';
const fail = async (): Promise<string> => {
  throw boom;
};

function setup(options: BreakerOptions = {}) {
  const clock = new ManualClock(1_000);
  const breaker = circuitBreaker({ clock, ...options });
  const changes: StateChangeEvent[] = [];
  breaker.onStateChange((event) => changes.push(event));
  return { clock, breaker, changes };
}

/** Runs `n` calls of `fn` one after the other, swallowing errors. */
async function run(breaker: CircuitBreaker, fn: () => Promise<string>, n = 1): Promise<void> {
  for (let i = 0; i < n; i++) await breaker.execute(fn).catch(() => {});
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

describe('count window', () => {
  it('trips when the failure rate reaches the threshold after minimumCalls', async () => {
    const { breaker, changes } = setup({
      windowSize: 10,
      minimumCalls: 4,
      failureRateThreshold: 0.5,
    });
    await run(breaker, fail, 3); // 3 failures, below minimumCalls
    expect(breaker.state).toBe('CLOSED');
    await run(breaker, ok); // 3/4 = 0.75 ≥ 0.5 once minimumCalls is reached
    expect(breaker.state).toBe('OPEN');
    expect(changes).toEqual([
      { breaker: 'default', from: 'CLOSED', to: 'OPEN', reason: 'failure-rate' },
    ]);
  });

  it('stays closed while the rate is below the threshold', async () => {
    const { breaker } = setup({ windowSize: 10, minimumCalls: 10, failureRateThreshold: 0.5 });
    for (let i = 0; i < 20; i++) await run(breaker, i % 3 === 0 ? fail : ok);
    expect(breaker.state).toBe('CLOSED');
    const m = breaker.metrics();
    expect(m.calls).toBe(10);
    expect(m.failureRate).toBeLessThan(0.5);
  });

  it('forgets calls that slid out of the window', async () => {
    const { breaker } = setup({ windowSize: 4, minimumCalls: 4, failureRateThreshold: 0.75 });
    await run(breaker, fail, 2);
    await run(breaker, ok, 4); // the two failures slide out
    expect(breaker.metrics()).toMatchObject({ calls: 4, failedCalls: 0 });
    await run(breaker, fail, 2);
    expect(breaker.metrics()).toMatchObject({ calls: 4, failedCalls: 2, failureRate: 0.5 });
    expect(breaker.state).toBe('CLOSED');
    await run(breaker, fail);
    expect(breaker.state).toBe('OPEN');
  });

  it('counts exact threshold rates like 30% without floating-point misses', async () => {
    const { breaker } = setup({ windowSize: 10, minimumCalls: 10, failureRateThreshold: 0.3 });
    await run(breaker, ok, 7);
    await run(breaker, fail, 3);
    expect(breaker.state).toBe('OPEN');
  });
});

describe('time window', () => {
  const timeOptions: BreakerOptions = {
    windowType: 'time',
    windowMs: 10_000,
    windowBuckets: 10,
    minimumCalls: 3,
    failureRateThreshold: 0.5,
  };

  it('trips on the failure rate of the last windowMs', async () => {
    const { breaker } = setup(timeOptions);
    await run(breaker, fail, 2);
    await run(breaker, ok);
    expect(breaker.state).toBe('OPEN');
  });

  it('drops buckets as time moves on, lazily', async () => {
    const { breaker, clock } = setup({ ...timeOptions, minimumCalls: 5 });
    await run(breaker, fail, 2);
    clock.advance(5_000);
    await run(breaker, ok, 2);
    expect(breaker.metrics()).toMatchObject({ calls: 4, failedCalls: 2 });
    clock.advance(5_500); // the failures' bucket aged out; the successes' is still inside
    expect(breaker.metrics()).toMatchObject({ calls: 2, failedCalls: 0 });
    await run(breaker, fail);
    expect(breaker.state).toBe('CLOSED'); // 3 calls: below minimumCalls
    expect(breaker.metrics()).toMatchObject({ calls: 3, failedCalls: 1 });
  });

  it('empties the whole window when time jumps far ahead', async () => {
    const { breaker, clock } = setup(timeOptions);
    await run(breaker, ok, 5);
    await run(breaker, fail, 1);
    clock.advance(1_000_000_000);
    expect(breaker.metrics()).toMatchObject({ calls: 0, failedCalls: 0 });
    await run(breaker, fail, 2);
    expect(breaker.state).toBe('CLOSED'); // only 2 calls in the window
    await run(breaker, fail);
    expect(breaker.state).toBe('OPEN');
  });

  it('keeps counting into the newest bucket when the clock goes back', async () => {
    const { breaker, clock } = setup(timeOptions);
    await run(breaker, ok);
    clock.advance(-5_000);
    await run(breaker, ok);
    expect(breaker.metrics().calls).toBe(2);
  });
});

describe('consecutive failures', () => {
  it('trips after consecutiveFailures in a row, reset by a success', async () => {
    const { breaker } = setup({ windowType: 'consecutive', consecutiveFailures: 3 });
    await run(breaker, fail, 2);
    await run(breaker, ok);
    await run(breaker, fail, 2);
    expect(breaker.state).toBe('CLOSED');
    expect(breaker.metrics().consecutiveFailures).toBe(2);
    await run(breaker, fail);
    expect(breaker.state).toBe('OPEN');
    expect(breaker.metrics().calls).toBe(0);
  });

  it('counts slow calls toward the run when slowCallDurationMs is set', async () => {
    const { breaker, clock } = setup({
      windowType: 'consecutive',
      consecutiveFailures: 2,
      slowCallDurationMs: 100,
    });
    const slow = () => {
      clock.advance(150);
      return Promise.resolve('late');
    };
    await breaker.execute(slow);
    await breaker.execute(slow);
    expect(breaker.state).toBe('OPEN');
  });
});

describe('slow calls', () => {
  it('trips on the slow-call rate, for successes and failures alike', async () => {
    const { breaker, clock, changes } = setup({
      windowSize: 4,
      minimumCalls: 4,
      failureRateThreshold: 1,
      slowCallDurationMs: 100,
      slowCallRateThreshold: 0.5,
    });
    const slowOk = () => {
      clock.advance(101);
      return Promise.resolve('late');
    };
    const slowFail = async () => {
      clock.advance(200);
      throw boom;
    };
    await run(breaker, ok, 2);
    await breaker.execute(slowOk);
    expect(breaker.metrics()).toMatchObject({ calls: 3, slowCalls: 1 });
    await breaker.execute(slowFail).catch(() => {});
    expect(breaker.state).toBe('OPEN');
    expect(changes.at(-1)?.reason).toBe('slow-call-rate');
  });

  it('is not slow at exactly slowCallDurationMs', async () => {
    const { breaker, clock } = setup({ slowCallDurationMs: 100 });
    await breaker.execute(() => {
      clock.advance(100);
      return 'on time';
    });
    expect(breaker.metrics().slowCalls).toBe(0);
  });

  it('emits slow-call events with the duration', async () => {
    const { breaker, clock } = setup({ slowCallDurationMs: 50 });
    const seen: unknown[] = [];
    breaker.onSlowCall((event) => seen.push(event));
    await breaker
      .execute(async () => {
        clock.advance(75);
        throw boom;
      })
      .catch(() => {});
    expect(seen).toEqual([{ breaker: 'default', durationMs: 75, failed: true }]);
  });
});

describe('open and half-open', () => {
  const tripOptions: BreakerOptions = { windowSize: 2, minimumCalls: 2, openMs: 1_000 };

  it('rejects at once while open, with retryAfterMs, without calling the work', async () => {
    const { breaker, clock } = setup(tripOptions);
    await run(breaker, fail, 2);
    clock.advance(400);
    let called = false;
    const error = await rejection(
      breaker.execute(() => {
        called = true;
        return 'x';
      }),
    );
    expect(called).toBe(false);
    expect(error).toBeInstanceOf(BreakerOpenError);
    expect(isBreakerError(error, 'BREAKER_OPEN')).toBe(true);
    expect((error as BreakerOpenError).retryAfterMs).toBe(600);
    expect((error as BreakerOpenError).state).toBe('OPEN');
    expect(breaker.metrics().rejectedCalls).toBe(1);
  });

  it('half-opens lazily on the first call after openMs, then closes on a good trial', async () => {
    const { breaker, clock, changes } = setup(tripOptions);
    await run(breaker, fail, 2);
    clock.advance(1_000);
    expect(breaker.state).toBe('OPEN'); // nothing happens without a call
    await expect(breaker.execute(ok)).resolves.toBe('ok');
    expect(changes.map((c) => `${c.to}:${c.reason}`)).toEqual([
      'OPEN:failure-rate',
      'HALF_OPEN:open-elapsed',
      'CLOSED:trials-passed',
    ]);
    expect(breaker.metrics()).toMatchObject({ calls: 0, openedCount: 0 });
  });

  it('reopens when the trial fails', async () => {
    const { breaker, clock } = setup(tripOptions);
    await run(breaker, fail, 2);
    clock.advance(1_000);
    await run(breaker, fail);
    expect(breaker.state).toBe('OPEN');
    expect(breaker.metrics().openedCount).toBe(2);
  });

  it('admits exactly halfOpenCalls concurrent trials and rejects the rest at once', async () => {
    const { breaker, clock } = setup({ ...tripOptions, halfOpenCalls: 3 });
    await run(breaker, fail, 2);
    clock.advance(1_000);
    const gates: (() => void)[] = [];
    const trial = () => new Promise<string>((resolve) => gates.push(() => resolve('trial')));
    const trials = [breaker.execute(trial), breaker.execute(trial), breaker.execute(trial)];
    expect(gates).toHaveLength(3);
    expect(breaker.state).toBe('HALF_OPEN');
    const extra = await rejection(breaker.execute(trial));
    expect(gates).toHaveLength(3); // the extra caller never ran
    expect(isBreakerError(extra, 'BREAKER_OPEN')).toBe(true);
    expect((extra as BreakerOpenError).state).toBe('HALF_OPEN');
    expect((extra as BreakerOpenError).retryAfterMs).toBe(1_000); // the next open period
    for (const open of gates) open();
    await Promise.all(trials);
    expect(breaker.state).toBe('CLOSED');
  });

  it('decides over the N trials with the failure-rate threshold', async () => {
    const { breaker, clock } = setup({
      ...tripOptions,
      halfOpenCalls: 4,
      failureRateThreshold: 0.5,
    });
    await run(breaker, fail, 2);
    clock.advance(1_000);
    await run(breaker, ok, 3);
    expect(breaker.state).toBe('HALF_OPEN');
    await run(breaker, fail); // 1 of 4 failed: 0.25 < 0.5
    expect(breaker.state).toBe('CLOSED');
  });

  it('reopens as soon as the trials cannot pass any more', async () => {
    const { breaker, clock } = setup({ ...tripOptions, halfOpenCalls: 4 });
    await run(breaker, fail, 2);
    clock.advance(1_000);
    await run(breaker, fail, 2); // 2 of 4 already ≥ 0.5
    expect(breaker.state).toBe('OPEN');
  });

  it('does not count a call admitted before a transition as a trial', async () => {
    const { breaker, clock } = setup(tripOptions);
    let release: (value: string) => void = () => {};
    const early = breaker.execute(() => new Promise<string>((resolve) => (release = resolve)));
    await run(breaker, fail, 2); // trips while `early` is in flight
    clock.advance(1_000);
    const gate: (() => void)[] = [];
    const trial = breaker.execute(() => new Promise<string>((r) => gate.push(() => r('t'))));
    release('late');
    await early;
    expect(breaker.state).toBe('HALF_OPEN'); // the late success did not close it
    gate[0]!();
    await trial;
    expect(breaker.state).toBe('CLOSED');
  });

  it('gives the trial slot back when a trial error is ignored', async () => {
    const { breaker, clock } = setup({ ...tripOptions, ignoreError: (e) => e === ignoredError });
    await run(breaker, fail, 2);
    clock.advance(1_000);
    await breaker
      .execute(async () => {
        throw ignoredError;
      })
      .catch(() => {});
    expect(breaker.state).toBe('HALF_OPEN');
    await run(breaker, ok);
    expect(breaker.state).toBe('CLOSED');
  });

  it('reopens when half-open lasts longer than maxWaitInHalfOpenMs', async () => {
    const { breaker, clock, changes } = setup({
      ...tripOptions,
      halfOpenCalls: 1,
      maxWaitInHalfOpenMs: 500,
    });
    await run(breaker, fail, 2);
    clock.advance(1_000);
    void breaker.execute(() => new Promise<string>(() => {})); // a trial that hangs
    const busy = await rejection(breaker.execute(ok));
    expect((busy as BreakerOpenError).retryAfterMs).toBe(500);
    clock.advance(500);
    const reopened = await rejection(breaker.execute(ok));
    expect((reopened as BreakerOpenError).state).toBe('OPEN');
    expect((reopened as BreakerOpenError).retryAfterMs).toBe(1_000);
    expect(changes.at(-1)).toMatchObject({
      from: 'HALF_OPEN',
      to: 'OPEN',
      reason: 'half-open-timeout',
    });
  });

  it('backs off the open time with a function of how many times it opened', async () => {
    const { breaker, clock } = setup({ ...tripOptions, openMs: (n) => 1_000 * 2 ** (n - 1) });
    await run(breaker, fail, 2);
    expect(((await rejection(breaker.execute(ok))) as BreakerOpenError).retryAfterMs).toBe(1_000);
    clock.advance(1_000);
    await run(breaker, fail); // trial fails: opened twice
    expect(((await rejection(breaker.execute(ok))) as BreakerOpenError).retryAfterMs).toBe(2_000);
    clock.advance(2_000);
    await run(breaker, fail);
    expect(((await rejection(breaker.execute(ok))) as BreakerOpenError).retryAfterMs).toBe(4_000);
    clock.advance(4_000);
    await run(breaker, ok); // closes: the count starts over
    await run(breaker, fail, 2);
    expect(((await rejection(breaker.execute(ok))) as BreakerOpenError).retryAfterMs).toBe(1_000);
  });

  it('treats a backoff result that is not a non-negative number as 0', async () => {
    const { breaker } = setup({ ...tripOptions, openMs: () => Number.NaN });
    await run(breaker, fail, 2);
    expect(breaker.state).toBe('OPEN');
    await expect(breaker.execute(ok)).resolves.toBe('ok'); // open for 0 ms
  });
});

const ignoredError = new Error('ignored');

describe('manual states', () => {
  it('FORCED_OPEN rejects everything until moved', async () => {
    const { breaker } = setup();
    breaker.transitionTo('FORCED_OPEN');
    const error = await rejection(breaker.execute(ok));
    expect(error).toBeInstanceOf(BreakerOpenError);
    expect((error as BreakerOpenError).state).toBe('FORCED_OPEN');
    expect((error as BreakerOpenError).retryAfterMs).toBeUndefined();
    breaker.transitionTo('CLOSED');
    await expect(breaker.execute(ok)).resolves.toBe('ok');
  });

  it("transitionTo('CLOSED') on a CLOSED breaker empties its window too (issue 12)", async () => {
    const { breaker, changes } = setup({ windowSize: 4, minimumCalls: 4 });
    await run(breaker, fail, 3);
    expect(breaker.metrics().failedCalls).toBe(3);
    breaker.transitionTo('CLOSED');
    expect(breaker.metrics()).toMatchObject({ state: 'CLOSED', calls: 0, failedCalls: 0 });
    expect(changes).toEqual([]); // no state change to report
    await run(breaker, fail, 1); // would have been the 4th failure of 4: it must not trip
    expect(breaker.state).toBe('CLOSED');
  });

  it('DISABLED passes everything through and records nothing', async () => {
    const { breaker } = setup({ windowSize: 2, minimumCalls: 2 });
    breaker.transitionTo('DISABLED');
    const failures: unknown[] = [];
    breaker.onFailure((event) => failures.push(event));
    await run(breaker, fail, 10);
    await expect(breaker.execute(() => 'sync')).resolves.toBe('sync');
    await expect(
      breaker.execute(() => {
        throw boom;
      }),
    ).rejects.toBe(boom);
    expect(breaker.state).toBe('DISABLED');
    expect(failures).toEqual([]);
    expect(breaker.metrics().calls).toBe(0);
  });

  it('METRICS_ONLY records every call but never trips', async () => {
    const { breaker } = setup({ windowSize: 10, minimumCalls: 2 });
    breaker.transitionTo('METRICS_ONLY');
    await run(breaker, fail, 20);
    expect(breaker.state).toBe('METRICS_ONLY');
    expect(breaker.metrics()).toMatchObject({ calls: 10, failedCalls: 10, failureRate: 1 });
  });

  it('CLOSED by hand starts with an empty window; OPEN and HALF_OPEN by hand work too', async () => {
    const { breaker, changes } = setup({ windowSize: 10, minimumCalls: 5, openMs: 100 });
    await run(breaker, fail, 3);
    breaker.transitionTo('OPEN');
    expect(await rejection(breaker.execute(ok))).toBeInstanceOf(BreakerOpenError);
    breaker.transitionTo('HALF_OPEN');
    await run(breaker, ok);
    expect(breaker.state).toBe('CLOSED');
    breaker.transitionTo('CLOSED'); // same state: no event
    expect(breaker.metrics().calls).toBe(0);
    expect(changes.map((c) => c.reason)).toEqual(['manual', 'manual', 'trials-passed']);
  });

  it('rejects an unknown state with INVALID_OPTIONS', () => {
    const { breaker } = setup();
    expect(() => breaker.transitionTo('AJAR' as never)).toThrowError(/unknown state "AJAR"/);
    try {
      breaker.transitionTo('AJAR' as never);
    } catch (error) {
      expect(isBreakerError(error, 'INVALID_OPTIONS')).toBe(true);
    }
  });
});

describe('isolate()', () => {
  it('holds the breaker open with BREAKER_ISOLATED until every handle is disposed', async () => {
    const { breaker, changes } = setup();
    const first = breaker.isolate();
    const second = breaker.isolate();
    expect(breaker.state).toBe('FORCED_OPEN');
    expect(breaker.metrics().isolated).toBe(true);
    expect(isBreakerError(await rejection(breaker.execute(ok)), 'BREAKER_ISOLATED')).toBe(true);
    expect(() => breaker.transitionTo('CLOSED')).toThrowError(/isolated/);
    first.dispose();
    first.dispose(); // idempotent: does not release the second handle
    expect(isBreakerError(await rejection(breaker.execute(ok)), 'BREAKER_ISOLATED')).toBe(true);
    second[Symbol.dispose]();
    await expect(breaker.execute(ok)).resolves.toBe('ok');
    expect(changes.map((c) => `${c.to}:${c.reason}`)).toEqual([
      'FORCED_OPEN:isolated',
      'CLOSED:isolation-released',
    ]);
  });

  it('returns to DISABLED or METRICS_ONLY if it was there', () => {
    const { breaker } = setup();
    breaker.transitionTo('METRICS_ONLY');
    breaker.isolate().dispose();
    expect(breaker.state).toBe('METRICS_ONLY');
    breaker.transitionTo('FORCED_OPEN');
    breaker.isolate().dispose();
    expect(breaker.state).toBe('FORCED_OPEN');
  });

  it('works with `using`', async () => {
    const { breaker } = setup();
    {
      using _held = breaker.isolate();
      expect(breaker.state).toBe('FORCED_OPEN');
    }
    expect(breaker.state).toBe('CLOSED');
  });
});

describe('predicates', () => {
  it('ignored errors count neither as success nor as failure', async () => {
    const { breaker } = setup({
      windowSize: 4,
      minimumCalls: 2,
      ignoreError: (e) => e === ignoredError,
    });
    const ignored: unknown[] = [];
    breaker.onIgnored((event) => ignored.push(event.error));
    const error = await rejection(
      breaker.execute(async () => {
        throw ignoredError;
      }),
    );
    expect(error).toBe(ignoredError); // the caller still sees it
    expect(breaker.metrics().calls).toBe(0);
    expect(ignored).toEqual([ignoredError]);
  });

  it('errors recordError rejects count as successes', async () => {
    const { breaker } = setup({
      windowSize: 4,
      minimumCalls: 2,
      recordError: (e) => !(e instanceof RangeError),
    });
    await run(
      breaker,
      async () => {
        throw new RangeError('bad input, not an outage');
      },
      4,
    );
    expect(breaker.metrics()).toMatchObject({ calls: 4, failedCalls: 0 });
    expect(breaker.state).toBe('CLOSED');
  });

  it('results flagged by isFailureResult count as failures but still resolve', async () => {
    const { breaker } = setup({
      windowSize: 2,
      minimumCalls: 2,
      isFailureResult: (r) => (r as { status: number }).status >= 500,
    });
    const failures: unknown[] = [];
    breaker.onFailure((event) => failures.push(event));
    const response = await breaker.execute(async () => ({ status: 503 }));
    expect(response).toEqual({ status: 503 });
    await breaker.execute(async () => ({ status: 503 }));
    expect(breaker.state).toBe('OPEN');
    expect(failures[0]).toMatchObject({
      fromResult: true,
      result: { status: 503 },
      error: undefined,
    });
  });

  it('a predicate that throws rejects the call with its error and records nothing', async () => {
    const bug = new Error('predicate bug');
    const { breaker } = setup({
      isFailureResult: () => {
        throw bug;
      },
      recordError: () => {
        throw bug;
      },
    });
    await expect(breaker.execute(ok)).rejects.toBe(bug);
    await expect(breaker.execute(fail)).rejects.toBe(bug);
    await expect(
      breaker.execute(() => {
        throw boom;
      }),
    ).rejects.toBe(bug);
    expect(breaker.metrics().calls).toBe(0);
  });

  it('a work function that throws synchronously is recorded like a rejection', async () => {
    const { breaker } = setup({ windowSize: 2, minimumCalls: 2 });
    for (let i = 0; i < 2; i++) {
      await expect(
        breaker.execute(() => {
          throw boom;
        }),
      ).rejects.toBe(boom);
    }
    expect(breaker.state).toBe('OPEN');
  });
});

describe('events', () => {
  it('emits success, failure and rejected events, and stops after dispose', async () => {
    const { breaker, clock } = setup({ windowSize: 2, minimumCalls: 2, failureRateThreshold: 1 });
    const seen: string[] = [];
    const subs = [
      breaker.onSuccess((e) => seen.push(`success ${e.durationMs}`)),
      breaker.onFailure((e) => seen.push(`failure ${e.error === boom}`)),
      breaker.onRejected((e) => seen.push(`rejected ${e.error.code}`)),
    ];
    await breaker.execute(() => {
      clock.advance(7);
      return 'ok';
    });
    await run(breaker, fail, 2);
    await run(breaker, ok);
    expect(seen).toEqual(['success 7', 'failure true', 'failure true', 'rejected BREAKER_OPEN']);
    for (const sub of subs) sub.dispose();
    await run(breaker, ok);
    expect(seen).toHaveLength(4);
  });

  it('a listener that throws does not break the call nor the other listeners', async () => {
    const { breaker } = setup();
    const seen: string[] = [];
    breaker.onSuccess(() => {
      throw new Error('listener bug');
    });
    breaker.onSuccess(() => seen.push('second'));
    const uncaught: unknown[] = [];
    const onUncaught = (error: unknown) => uncaught.push(error);
    const originalQueue = globalThis.queueMicrotask;
    globalThis.queueMicrotask = (callback) =>
      originalQueue(() => {
        try {
          callback();
        } catch (error) {
          onUncaught(error);
        }
      });
    try {
      await expect(breaker.execute(ok)).resolves.toBe('ok');
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      globalThis.queueMicrotask = originalQueue;
    }
    expect(seen).toEqual(['second']);
    expect(uncaught).toEqual([new Error('listener bug')]);
  });

  it('rejects a listener that is not a function', () => {
    const { breaker } = setup();
    expect(() => breaker.onSuccess('nope' as never)).toThrowError(/listener must be a function/);
  });

  it('close() drops every listener and refuses new work (POLICY_CLOSED), idempotently', async () => {
    const { breaker, changes } = setup({ windowSize: 2, minimumCalls: 2 });
    await run(breaker, fail, 1);
    const inFlight = breaker.execute(() => Promise.resolve('late'));
    breaker.close();
    await expect(inFlight).resolves.toBe('late'); // admitted before close(): finishes
    let ran = 0;
    const refused = await breaker
      .execute(async () => {
        ran++;
      })
      .catch((e: unknown) => e);
    expect(isBreakerError(refused, 'POLICY_CLOSED') && refused.policy).toBe('circuitBreaker');
    expect(ran).toBe(0);
    expect(breaker.state).toBe('CLOSED'); // the state it was closed in
    expect(() => breaker.transitionTo('OPEN')).toThrowError(/closed/);
    expect(() => breaker.isolate()).toThrowError(/closed/);
    expect(changes).toEqual([]);
    await breaker[Symbol.asyncDispose]();
  });
});

describe('toJSON() and hydrate()', () => {
  it('round-trips an open breaker through JSON', async () => {
    const { breaker, clock } = setup({ windowSize: 4, minimumCalls: 3, openMs: 1_000 });
    await run(breaker, ok);
    await run(breaker, fail, 2);
    clock.advance(300);
    await run(breaker, ok); // rejected
    const snapshot = JSON.parse(JSON.stringify(breaker));
    expect(snapshot).toEqual({
      version: 1,
      name: 'default',
      state: 'OPEN',
      openedCount: 1,
      openUntil: 2_000,
      consecutiveFailures: 0,
      rejectedCalls: 1,
      window: { type: 'count', size: 4, outcomes: [0, 1, 1] },
    });
    const copy = circuitBreaker({ clock, windowSize: 4, minimumCalls: 3, openMs: 1_000 });
    copy.hydrate(snapshot);
    expect(copy.state).toBe('OPEN');
    expect(copy.metrics()).toEqual(breaker.metrics());
    expect(((await rejection(copy.execute(ok))) as BreakerOpenError).retryAfterMs).toBe(700);
    clock.advance(700);
    await expect(copy.execute(ok)).resolves.toBe('ok');
    expect(copy.state).toBe('CLOSED');
  });

  it('round-trips a closed count window with only successes, and a time window', async () => {
    const { breaker } = setup({ windowSize: 4 });
    await run(breaker, ok, 3);
    const copy = circuitBreaker({ windowSize: 4 });
    copy.hydrate(breaker.toJSON());
    expect(copy.metrics().calls).toBe(3);

    const timed = setup({
      windowType: 'time',
      windowMs: 1_000,
      windowBuckets: 4,
      minimumCalls: 10,
    });
    await run(timed.breaker, fail, 2);
    timed.clock.advance(250);
    await run(timed.breaker, ok);
    const snapshot = timed.breaker.toJSON();
    const timedCopy = circuitBreaker({
      clock: timed.clock,
      windowType: 'time',
      windowMs: 1_000,
      windowBuckets: 4,
      minimumCalls: 10,
    });
    timedCopy.hydrate(snapshot);
    expect(timedCopy.metrics()).toMatchObject({ calls: 3, failedCalls: 2 });
    timed.clock.advance(800); // the failures' bucket ages out in the copy too
    expect(timedCopy.metrics()).toMatchObject({ calls: 1, failedCalls: 0 });
  });

  it('drops a window of another shape, keeps the rest, and restarts HALF_OPEN trials', () => {
    const { breaker } = setup({ windowSize: 8 });
    breaker.hydrate({
      version: 1,
      name: 'elsewhere',
      state: 'HALF_OPEN',
      openedCount: 2,
      openUntil: null,
      consecutiveFailures: 0,
      rejectedCalls: 5,
      window: { type: 'count', size: 100, outcomes: [1, 1] },
    });
    expect(breaker.state).toBe('HALF_OPEN');
    expect(breaker.metrics()).toMatchObject({ calls: 0, openedCount: 2, rejectedCalls: 5 });
  });

  it('hydrates a consecutive breaker', async () => {
    const { breaker } = setup({ windowType: 'consecutive', consecutiveFailures: 3 });
    await run(breaker, fail, 2);
    const copy = circuitBreaker({ windowType: 'consecutive', consecutiveFailures: 3 });
    copy.hydrate(breaker.toJSON());
    expect(copy.metrics().consecutiveFailures).toBe(2);
    await run(copy, fail);
    expect(copy.state).toBe('OPEN');
  });

  it.each([
    ['not an object', 'nope', '(snapshot)'],
    ['another version', { version: 2 }, 'version'],
    ['unknown state', { ...validSnapshot(), state: 'AJAR' }, 'state'],
    ['negative count', { ...validSnapshot(), openedCount: -1 }, 'openedCount'],
    ['OPEN without openUntil', { ...validSnapshot(), state: 'OPEN' }, 'openUntil'],
    [
      'bad outcome',
      { ...validSnapshot(), window: { type: 'count', size: 4, outcomes: [7] } },
      'window.outcomes.0',
    ],
    [
      'too many outcomes',
      { ...validSnapshot(), window: { type: 'count', size: 1, outcomes: [0, 0] } },
      'window.outcomes',
    ],
    [
      'more failures than calls',
      { ...validSnapshot(), window: { type: 'time', bucketMs: 10, head: 3, buckets: [[1, 2, 0]] } },
      'window.buckets.0',
    ],
  ])('rejects a snapshot with %s (INVALID_SNAPSHOT)', (_label, input, field) => {
    const { breaker } = setup();
    try {
      breaker.hydrate(input as never);
      expect.unreachable();
    } catch (error) {
      expect(isBreakerError(error, 'INVALID_SNAPSHOT')).toBe(true);
      expect((error as { field: string }).field).toBe(field);
      expect((error as Error).message).toContain('toJSON()');
    }
    expect(breaker.state).toBe('CLOSED');
  });

  it('refuses to hydrate while isolated', () => {
    const { breaker } = setup();
    breaker.isolate();
    expect(() => breaker.hydrate(validSnapshot())).toThrowError(/isolated/);
  });
});

function validSnapshot() {
  return {
    version: 1 as const,
    name: 'x',
    state: 'CLOSED' as const,
    openedCount: 0,
    openUntil: null,
    consecutiveFailures: 0,
    rejectedCalls: 0,
    window: null,
  };
}

describe('bad work', () => {
  it('rejects a work that is not a function with INVALID_OPTIONS, recording nothing', async () => {
    const { breaker } = setup();
    const error = await rejection(breaker.execute('fetch' as never));
    expect(isBreakerError(error, 'INVALID_OPTIONS')).toBe(true);
    expect((error as { option: string }).option).toBe('fn');
    expect(breaker.metrics().calls).toBe(0);
  });
});

describe('abort signals and attempt', () => {
  it('passes { signal, attempt } to the work', async () => {
    const { breaker } = setup();
    const controller = new AbortController();
    const seen = await breaker.execute(
      (ctx) => ({ aborted: ctx.signal.aborted, attempt: ctx.attempt }),
      {
        signal: controller.signal,
        attempt: 3,
      },
    );
    expect(seen).toEqual({ aborted: false, attempt: 3 });
    const aborts: unknown[] = [];
    const pending = breaker.execute(
      (ctx) =>
        new Promise<string>((_, reject) => {
          ctx.signal.addEventListener('abort', () => {
            aborts.push(ctx.signal.reason);
            reject(ctx.signal.reason);
          });
        }),
      { signal: controller.signal },
    );
    controller.abort(new Error('caller gave up'));
    await expect(pending).rejects.toThrowError('caller gave up');
    expect(aborts).toHaveLength(1);
  });

  it('gives calls without options attempt 1 and a signal that never aborts', async () => {
    const { breaker } = setup();
    const ctx = await breaker.execute((c) => ({ attempt: c.attempt, signal: c.signal }));
    expect(ctx.attempt).toBe(1);
    expect(ctx.signal).toBeInstanceOf(AbortSignal);
    expect(ctx.signal.aborted).toBe(false);
  });

  it('rejects a pre-aborted call with ABORTED without calling the work', async () => {
    const { breaker } = setup();
    let called = false;
    const error = await rejection(
      breaker.execute(
        () => {
          called = true;
          return 'x';
        },
        { signal: AbortSignal.abort(new Error('stop')) },
      ),
    );
    expect(called).toBe(false);
    expect(isBreakerError(error, 'ABORTED')).toBe(true);
    expect((error as Error).cause).toEqual(new Error('stop'));
    expect(breaker.metrics().calls).toBe(0);
  });
});

/** Work that rejects with its signal's reason when the signal aborts. */
function rejectOnAbort({ signal }: AttemptContext): Promise<string> {
  return new Promise<string>((_, reject) => {
    signal.addEventListener('abort', () => reject(signal.reason), { once: true });
  });
}

describe('successes that change nothing', () => {
  it.each([
    ['a count window full of successes', { windowSize: 4, minimumCalls: 2 } as BreakerOptions],
    [
      'a consecutive run at zero',
      { windowType: 'consecutive', consecutiveFailures: 2 } as BreakerOptions,
    ],
    [
      'a time window',
      { windowType: 'time', windowMs: 1_000, windowBuckets: 10, minimumCalls: 2 } as BreakerOptions,
    ],
  ])(
    'still resolve with the value, count, and let failures trip it (%s)',
    async (_label, options) => {
      const { breaker } = setup(options);
      for (let i = 0; i < 10; i++) await expect(breaker.execute(ok)).resolves.toBe('ok');
      const seen: string[] = [];
      breaker.onSuccess(() => seen.push('success'));
      await breaker.execute(ok);
      expect(seen).toEqual(['success']); // a listener added later sees the next calls
      const consecutive = options.windowType === 'consecutive';
      expect(breaker.metrics().calls).toBe(
        consecutive ? 0 : options.windowType === 'time' ? 11 : 4,
      );
      await run(breaker, fail, consecutive ? 2 : 12);
      expect(breaker.state).toBe('OPEN');
    },
  );
});

describe('caller aborts', () => {
  // `{}` takes the unchained path (no listener, no predicate); the others chain the booking.
  const paths: [string, BreakerOptions, boolean][] = [
    ['no predicate, no listener', {}, false],
    ['slow calls tracked', { slowCallDurationMs: 1_000 }, false],
    ['ignored event listened to', {}, true],
  ];

  it.each(paths)(
    'ignores a call whose signal aborted before it failed (%s)',
    async (_label, options, listen) => {
      const { breaker } = setup({ windowType: 'consecutive', consecutiveFailures: 1, ...options });
      const ignored: unknown[] = [];
      if (listen) breaker.onIgnored((event) => ignored.push(event.error));
      const controller = new AbortController();
      const pending = breaker.execute(rejectOnAbort, { signal: controller.signal });
      const reason = new Error('caller gave up');
      controller.abort(reason);
      expect(await rejection(pending)).toBe(reason); // the caller still sees its reason
      expect(breaker.state).toBe('CLOSED');
      expect(breaker.metrics().consecutiveFailures).toBe(0);
      if (listen) expect(ignored).toEqual([reason]);
      await run(breaker, fail); // a real failure still trips it
      expect(breaker.state).toBe('OPEN');
    },
  );

  it('ignores a work that throws synchronously after its signal aborted', async () => {
    const { breaker } = setup({ windowSize: 4, minimumCalls: 1 });
    const controller = new AbortController();
    const error = await rejection(
      breaker.execute(
        () => {
          controller.abort();
          throw new Error('stopped');
        },
        { signal: controller.signal },
      ),
    );
    expect((error as Error).message).toBe('stopped');
    expect(breaker.metrics().calls).toBe(0);
  });

  it('ignores an ABORTED error even without a signal (e.g. from an inner policy)', async () => {
    const { breaker } = setup({ windowSize: 4, minimumCalls: 1 });
    const error = await rejection(
      breaker.execute(async () => {
        throw new AbortedError('shutdown');
      }),
    );
    expect(isBreakerError(error, 'ABORTED')).toBe(true);
    expect(breaker.metrics()).toMatchObject({ calls: 0, state: 'CLOSED' });
  });

  it('counts an error as usual while the signal is not aborted', async () => {
    const { breaker } = setup({ windowType: 'consecutive', consecutiveFailures: 1 });
    const controller = new AbortController();
    await rejection(breaker.execute(fail, { signal: controller.signal }));
    expect(breaker.state).toBe('OPEN');
  });

  it('gives the half-open trial slot back when the caller aborts it', async () => {
    const { breaker, clock } = setup({ openMs: 1_000 });
    breaker.transitionTo('OPEN');
    clock.advance(1_000);
    const controller = new AbortController();
    const trial = breaker.execute(rejectOnAbort, { signal: controller.signal });
    expect(breaker.state).toBe('HALF_OPEN');
    controller.abort();
    await rejection(trial);
    expect(breaker.state).toBe('HALF_OPEN');
    await expect(breaker.execute(ok)).resolves.toBe('ok'); // the slot is free again
    expect(breaker.state).toBe('CLOSED');
  });

  it.each(paths)(
    'records aborts as failures with recordAborts: true (%s)',
    async (_label, options, listen) => {
      const { breaker } = setup({
        windowType: 'consecutive',
        consecutiveFailures: 2,
        recordAborts: true,
        ...options,
      });
      const failures: unknown[] = [];
      if (listen) breaker.onFailure((event) => failures.push(event.error));
      const controller = new AbortController();
      const pending = breaker.execute(rejectOnAbort, { signal: controller.signal });
      controller.abort(new Error('caller gave up'));
      await rejection(pending);
      await rejection(
        breaker.execute(async () => {
          throw new AbortedError();
        }),
      );
      expect(breaker.state).toBe('OPEN');
      if (listen) expect(failures).toHaveLength(2);
    },
  );

  it('still applies ignoreError and recordError to aborts with recordAborts: true', async () => {
    const { breaker } = setup({
      windowSize: 4,
      minimumCalls: 1,
      recordAborts: true,
      recordError: (error) => !isBreakerError(error, 'ABORTED'),
    });
    await rejection(
      breaker.execute(async () => {
        throw new AbortedError();
      }),
    );
    expect(breaker.metrics()).toMatchObject({ calls: 1, failedCalls: 0 });
  });
});

/**
 * Collects the reasons of unhandled rejections while `body` runs, with the runner's own handlers
 * set aside (and put back after), waiting two macrotask turns for Node to report them.
 */
async function unhandledRejections(body: () => void): Promise<unknown[]> {
  const reasons: unknown[] = [];
  const runners = process.listeners('unhandledRejection');
  process.removeAllListeners('unhandledRejection');
  const listener = (reason: unknown) => reasons.push(reason);
  process.on('unhandledRejection', listener);
  try {
    body();
    for (let i = 0; i < 2; i++) await new Promise((resolve) => setImmediate(resolve));
  } finally {
    process.off('unhandledRejection', listener);
    for (const runner of runners) process.on('unhandledRejection', runner);
  }
  return reasons;
}

describe('unhandled rejections', () => {
  const cases: [string, BreakerOptions, number, boolean][] = [
    ['a cold breaker', {}, 0, false],
    ['a hot breaker', {}, 40, false],
    ['a call with a signal', {}, 0, true],
    ['a chained breaker', { slowCallDurationMs: 1_000 }, 0, false],
  ];

  it.each(cases)(
    'a rejected execute() nobody observes surfaces (%s)',
    async (_label, options, warm, withSignal) => {
      const { breaker } = setup(options);
      for (let i = 0; i < warm; i++) await breaker.execute(ok);
      const signal = withSignal ? new AbortController().signal : undefined;
      const reasons = await unhandledRejections(() => {
        void breaker.execute(fail, signal === undefined ? undefined : { signal });
      });
      expect(reasons).toEqual([boom]);
      expect(breaker.metrics().failedCalls).toBe(1); // and it was booked
    },
  );

  it('a work that throws synchronously surfaces too, and a handled rejection does not', async () => {
    const { breaker } = setup();
    const reasons = await unhandledRejections(() => {
      void breaker.execute(() => {
        throw boom;
      });
      breaker.execute(fail).catch(() => {});
    });
    expect(reasons).toEqual([boom]);
  });
});

describe('work per call', () => {
  it('leaves no timer or listener behind after 10,000 calls', async () => {
    const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const before = timers();
    const clock = new ManualClock();
    const breaker = circuitBreaker({ clock, slowCallDurationMs: 5, windowType: 'time' });
    const plain = circuitBreaker({ windowSize: 50 });
    const controller = new AbortController();
    for (let i = 0; i < 10_000; i++) {
      const sub = breaker.onSuccess(() => {});
      await breaker.execute(({ signal }) => {
        signal.addEventListener('abort', () => {}, { once: true });
        return i;
      });
      sub.dispose();
      await plain.execute(async () => i, { signal: controller.signal }).catch(() => {});
    }
    expect(timers()).toBe(before);
    expect(breaker.state).toBe('CLOSED');
    // the caller's signal got no listener from the breaker
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
  });

  it('records a failure in constant work whatever the window size', async () => {
    // A behavioural proxy for O(1): the ring is written in place, so a 1,000,000-call window
    // takes the same number of operations per call as a 10-call one (timings live in the bench).
    const big = circuitBreaker({ windowSize: 1_000_000, minimumCalls: 1_000_000 });
    big.transitionTo('METRICS_ONLY');
    await run(big, fail, 2_000);
    expect(big.metrics()).toMatchObject({ calls: 2_000, failedCalls: 2_000 });
  });
});

describe('public types', () => {
  it('infers the result type, hands the work an AttemptContext and is a Policy', () => {
    const breaker = circuitBreaker();
    expectTypeOf(breaker.execute(async () => 1)).toEqualTypeOf<Promise<number>>();
    expectTypeOf(breaker.execute(() => 'sync')).toEqualTypeOf<Promise<string>>();
    expectTypeOf(breaker.execute<number>)
      .parameter(0)
      .parameter(0)
      .toEqualTypeOf<AttemptContext>();
    expectTypeOf(breaker).toMatchTypeOf<Policy>();
    expectTypeOf(breaker.state).toEqualTypeOf<BreakerStateName>();
    expectTypeOf(breaker.metrics()).toEqualTypeOf<BreakerMetrics>();
    // @ts-expect-error: a threshold is a fraction, not a string
    expect(() => circuitBreaker({ failureRateThreshold: '0.5' })).toThrowError();
  });
});

// A breaker without listeners or SDK that has seen only successes takes a shorter path per call;
// these check that everything that must leave that path does.
describe('a quiet breaker (only successes, no listener)', () => {
  const warm = (breaker: CircuitBreaker) => run(breaker, ok, 200);

  it('still counts failures and trips on the failure rate', async () => {
    const breaker = circuitBreaker({ windowSize: 10, minimumCalls: 10, failureRateThreshold: 0.5 });
    await warm(breaker);
    await run(breaker, fail, 4);
    expect(breaker.state).toBe('CLOSED');
    await run(breaker, fail);
    expect(breaker.state).toBe('OPEN');
    expect(breaker.metrics()).toMatchObject({ calls: 10, failedCalls: 5 });
  });

  it('still counts failures in a row (consecutive window)', async () => {
    const breaker = circuitBreaker({ windowType: 'consecutive', consecutiveFailures: 3 });
    await warm(breaker);
    await run(breaker, fail, 2);
    await run(breaker, ok); // resets the run
    await run(breaker, fail, 2);
    expect(breaker.state).toBe('CLOSED');
    await run(breaker, fail);
    expect(breaker.state).toBe('OPEN');
  });

  it('books a work that throws synchronously', async () => {
    const breaker = circuitBreaker();
    await warm(breaker);
    await expect(
      breaker.execute(() => {
        throw boom;
      }),
    ).rejects.toBe(boom);
    expect(breaker.metrics().failedCalls).toBe(1);
  });

  it('surfaces a rejection nobody observes', async () => {
    const breaker = circuitBreaker();
    await warm(breaker);
    const reasons = await unhandledRejections(() => void breaker.execute(fail));
    expect(reasons).toEqual([boom]);
    expect(breaker.metrics().failedCalls).toBe(1);
  });

  it('tells a listener added later about every call', async () => {
    const breaker = circuitBreaker();
    await warm(breaker);
    let successes = 0;
    breaker.onSuccess(() => successes++);
    await run(breaker, ok, 3);
    expect(successes).toBe(3);
  });

  it('after a manual transition, records in METRICS_ONLY and gives up the short path', async () => {
    const breaker = circuitBreaker({ windowSize: 10, minimumCalls: 10 });
    await warm(breaker);
    breaker.transitionTo('METRICS_ONLY');
    await run(breaker, fail, 10);
    expect(breaker.state).toBe('METRICS_ONLY');
    expect(breaker.metrics()).toMatchObject({ calls: 10, failedCalls: 10 });
  });
});
