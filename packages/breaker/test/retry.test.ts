import { ManualClock } from '@ballast/test-utils';
import { type OtelTestSdk, otelTestSdk } from '@ballast/test-utils/otel';
import { trace } from '@opentelemetry/api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BreakerOpenError,
  isBreakerError,
  RetryBudgetExhaustedError,
  type RetryOptions,
  retry,
} from '../src/index.ts';

/** Records the delays a retry policy schedules on its clock. */
function recordingClock(): ManualClock & { delays: number[] } {
  const clock = new ManualClock() as ManualClock & { delays: number[] };
  clock.delays = [];
  const schedule = clock.setTimeout.bind(clock);
  clock.setTimeout = (callback: () => void, ms: number) => {
    clock.delays.push(ms);
    return schedule(callback, ms);
  };
  return clock;
}

/** Runs `promise` to completion while advancing the manual clock through every delay. */
async function drive<T>(clock: ManualClock, promise: Promise<T>, stepMs = 100_000): Promise<T> {
  let done = false;
  promise.then(
    () => {
      done = true;
    },
    () => {
      done = true;
    },
  );
  for (let i = 0; i < 1000 && !done; i++) await clock.advanceAsync(stepMs);
  return promise;
}

function failing(times: number, error: () => unknown = () => new Error('boom')) {
  let calls = 0;
  const attempts: number[] = [];
  const fn = async ({ attempt }: { attempt: number }) => {
    attempts.push(attempt);
    calls++;
    if (calls <= times) throw error();
    return `ok after ${calls}`;
  };
  return { fn, attempts, calls: () => calls };
}

describe('retry', () => {
  it('retries until success and numbers the attempts', async () => {
    const clock = recordingClock();
    const policy = retry({ maxAttempts: 3, clock, backoff: 'constant', initialDelayMs: 50 });
    const { fn, attempts } = failing(2);
    await expect(drive(clock, policy.execute(fn))).resolves.toBe('ok after 3');
    expect(attempts).toEqual([1, 2, 3]);
    expect(clock.delays).toEqual([50, 50]);
  });

  it('emits onRetry events until the subscription is disposed', async () => {
    const clock = new ManualClock();
    const policy = retry({ clock, backoff: 'constant', initialDelayMs: 5, maxAttempts: 3 });
    const events: unknown[] = [];
    const subscription = policy.onRetry((event) => events.push(event));
    await drive(clock, policy.execute(failing(2, () => new Error('flaky')).fn));
    expect(events).toEqual([
      { error: new Error('flaky'), attempt: 2, delayMs: 5 },
      { error: new Error('flaky'), attempt: 3, delayMs: 5 },
    ]);
    subscription.dispose();
    await drive(clock, policy.execute(failing(1).fn));
    expect(events).toHaveLength(2);
  });

  it('has a finite default of 3 attempts and rethrows the last error', async () => {
    const clock = new ManualClock();
    const policy = retry({ clock });
    expect(policy.maxAttempts).toBe(3);
    let n = 0;
    const run = policy.execute(async () => {
      n++;
      throw new Error(`failure ${n}`);
    });
    await expect(drive(clock, run)).rejects.toThrow('failure 3');
    expect(n).toBe(3);
  });

  it.each([
    ['constant', [100, 100, 100, 100]],
    ['exponential', [100, 200, 400, 800]],
    ['full-jitter', [50, 100, 200, 400]],
    ['decorrelated-jitter', [200, 350, 575, 912.5]],
  ] as const)(
    'computes %s backoff (random 0.5, capped by maxDelayMs)',
    async (backoff, expected) => {
      const clock = recordingClock();
      const policy = retry({
        maxAttempts: 5,
        backoff,
        initialDelayMs: 100,
        maxDelayMs: 1000,
        random: () => 0.5,
        clock,
        budget: false,
      });
      await drive(clock, policy.execute(failing(10).fn)).catch(() => {});
      expect(clock.delays).toEqual(expected);
    },
  );

  it('caps exponential delays at maxDelayMs and accepts a custom backoff function', async () => {
    const clock = recordingClock();
    const capped = retry({
      maxAttempts: 6,
      backoff: 'exponential',
      initialDelayMs: 100,
      maxDelayMs: 300,
      clock,
      budget: false,
    });
    await drive(clock, capped.execute(failing(10).fn)).catch(() => {});
    expect(clock.delays).toEqual([100, 200, 300, 300, 300]);

    const custom = recordingClock();
    const policy = retry({ maxAttempts: 3, backoff: (n) => n * 7, clock: custom });
    await drive(custom, policy.execute(failing(10).fn)).catch(() => {});
    expect(custom.delays).toEqual([7, 14]);
  });

  it('retries only errors that handleError accepts', async () => {
    const clock = new ManualClock();
    const policy = retry({ clock, handleError: (e) => (e as Error).message === 'transient' });
    const fatal = failing(5, () => new Error('fatal'));
    await expect(drive(clock, policy.execute(fatal.fn))).rejects.toThrow('fatal');
    expect(fatal.calls()).toBe(1);
    const transient = failing(1, () => new Error('transient'));
    await expect(drive(clock, policy.execute(transient.fn))).resolves.toBe('ok after 2');
  });

  it('does not retry an open breaker or an abort by default', async () => {
    const clock = new ManualClock();
    const policy = retry({ clock });
    const open = failing(5, () => new BreakerOpenError('db', 'OPEN', 1000));
    await expect(drive(clock, policy.execute(open.fn))).rejects.toSatisfy((e) =>
      isBreakerError(e, 'BREAKER_OPEN'),
    );
    expect(open.calls()).toBe(1);
  });

  it('retries results that handleResult rejects and returns the last one when attempts run out', async () => {
    const clock = new ManualClock();
    const policy = retry({
      clock,
      maxAttempts: 2,
      handleResult: (r) => (r as { status: number }).status >= 500,
    });
    let n = 0;
    const statuses = [503, 200];
    await expect(
      drive(
        clock,
        policy.execute(async () => ({ status: statuses[n++]! })),
      ),
    ).resolves.toEqual({ status: 200 });
    n = 0;
    const always = retry({ clock, maxAttempts: 2, handleResult: () => true });
    await expect(
      drive(
        clock,
        always.execute(async () => ++n),
      ),
    ).resolves.toBe(2);
  });

  it('waits at least a result Retry-After in seconds, capped at maxDelayMs', async () => {
    const clock = recordingClock();
    const policy = retry({
      clock,
      maxAttempts: 3,
      backoff: 'constant',
      initialDelayMs: 10,
      maxDelayMs: 5_000,
      handleResult: (r) => (r as Response).status === 503,
    });
    const answers = [
      new Response(null, { status: 503, headers: { 'retry-after': '2' } }),
      new Response(null, { status: 503, headers: { 'retry-after': '60' } }),
      new Response('ok', { status: 200 }),
    ];
    let i = 0;
    const result = await drive(
      clock,
      policy.execute(async () => answers[i++]!),
    );
    expect(result.status).toBe(200);
    expect(clock.delays).toEqual([2_000, 5_000]);
  });

  it('honours a Retry-After HTTP date and plain header objects', async () => {
    const clock = recordingClock();
    const date = new Date(Date.now() + 3_000).toUTCString();
    const policy = retry({
      clock,
      maxAttempts: 2,
      initialDelayMs: 1,
      handleResult: (r) => (r as { statusCode: number }).statusCode === 429,
    });
    let i = 0;
    await drive(
      clock,
      policy.execute(async () =>
        i++ === 0
          ? { statusCode: 429, headers: { 'retry-after': date } }
          : { statusCode: 200, headers: {} },
      ),
    );
    expect(clock.delays[0]).toBeGreaterThan(1_000);
    expect(clock.delays[0]).toBeLessThanOrEqual(3_000);
  });

  it('reads Retry-After with a custom extractor and ignores malformed values', async () => {
    const clock = recordingClock();
    const policy = retry({
      clock,
      maxAttempts: 3,
      backoff: 'constant',
      initialDelayMs: 5,
      retryAfter: (outcome) =>
        'error' in outcome ? (outcome.error as { after?: string }).after : undefined,
    });
    const errors = [
      Object.assign(new Error('a'), { after: '1' }),
      Object.assign(new Error('b'), { after: 'soon' }),
    ];
    let i = 0;
    await drive(
      clock,
      policy.execute(async () => {
        if (i < 2) throw errors[i++];
        return 1;
      }),
    );
    expect(clock.delays).toEqual([1_000, 5]);
  });

  it('uses an error retryAfterMs by default', async () => {
    const clock = recordingClock();
    const policy = retry({ clock, maxAttempts: 2, initialDelayMs: 1, backoff: 'constant' });
    await drive(
      clock,
      policy.execute(
        failing(1, () => Object.assign(new Error('limited'), { retryAfterMs: 750 })).fn,
      ),
    );
    expect(clock.delays).toEqual([750]);
  });

  describe('retry budget', () => {
    it('stops retries beyond ratio × calls + floor, shared by all calls, with the last error as cause', async () => {
      const clock = new ManualClock();
      const policy = retry({
        clock,
        maxAttempts: 2,
        initialDelayMs: 0,
        budget: { ratio: 0.25, minPerSecond: 2, windowMs: 10_000 },
      });
      const outcomes: unknown[] = [];
      for (let i = 0; i < 20; i++) {
        const { fn } = failing(10, () => new Error(`down ${i}`));
        outcomes.push(await drive(clock, policy.execute(fn), 0).catch((e: unknown) => e));
      }
      const exhausted = outcomes.filter((e) => isBreakerError(e, 'RETRY_BUDGET_EXHAUSTED'));
      const retried = outcomes.length - exhausted.length;
      // floor 2 + 20 calls × 0.25 = 7 tokens (no time passes: the floor does not refill).
      expect(retried).toBe(7);
      expect(exhausted.length).toBe(13);
      const last = exhausted.at(-1) as RetryBudgetExhaustedError;
      expect(last).toBeInstanceOf(RetryBudgetExhaustedError);
      expect(last.code).toBe('RETRY_BUDGET_EXHAUSTED');
      expect((last.cause as Error).message).toBe('down 18');
      expect(last.attempts).toBe(1);
    });

    it('refills its floor over time and lets deposits decay', async () => {
      const clock = new ManualClock();
      const policy = retry({
        clock,
        maxAttempts: 2,
        initialDelayMs: 0,
        budget: { ratio: 0, minPerSecond: 1, windowMs: 1_000 },
      });
      const run = () => drive(clock, policy.execute(failing(10).fn), 0).catch((e: unknown) => e);
      expect(isBreakerError(await run(), 'RETRY_BUDGET_EXHAUSTED')).toBe(false);
      expect(isBreakerError(await run(), 'RETRY_BUDGET_EXHAUSTED')).toBe(true);
      clock.advance(1_000);
      expect(isBreakerError(await run(), 'RETRY_BUDGET_EXHAUSTED')).toBe(false);

      const decaying = retry({ clock, budget: { ratio: 1, minPerSecond: 0, windowMs: 1_000 } });
      for (let i = 0; i < 10; i++) await decaying.execute(async () => 1);
      expect(decaying.budget!.available).toBeCloseTo(10, 5);
      clock.advance(5_000);
      expect(decaying.budget!.available).toBeLessThan(0.1);
    });

    it('returns the last result when the budget stops a result retry, and can be disabled', async () => {
      const clock = new ManualClock();
      const policy = retry({
        clock,
        handleResult: () => true,
        budget: { ratio: 0, minPerSecond: 0 },
      });
      let n = 0;
      await expect(
        drive(
          clock,
          policy.execute(async () => ++n),
        ),
      ).resolves.toBe(1);
      const unlimited = retry({ clock, budget: false, maxAttempts: 4 });
      expect(unlimited.budget).toBeUndefined();
      await expect(drive(clock, unlimited.execute(failing(3).fn))).resolves.toBe('ok after 4');
    });
  });

  describe('abort', () => {
    it('rejects at once when aborted during a backoff delay and clears the timer', async () => {
      const clock = new ManualClock();
      const policy = retry({ clock, initialDelayMs: 60_000, backoff: 'constant' });
      const controller = new AbortController();
      const { fn, calls } = failing(10);
      const run = policy.execute(fn, { signal: controller.signal });
      await clock.advanceAsync(0);
      expect(clock.pending).toBe(1);
      controller.abort(new Error('client went away'));
      await expect(run).rejects.toSatisfy(
        (e) => isBreakerError(e, 'ABORTED') && (e.cause as Error).message === 'client went away',
      );
      expect(clock.pending).toBe(0);
      expect(calls()).toBe(1);
    });

    it('does not retry once the caller aborted, and hands the signal to each attempt', async () => {
      const clock = new ManualClock();
      const policy = retry({ clock });
      const controller = new AbortController();
      const seen: AbortSignal[] = [];
      const run = policy.execute(
        async ({ signal }) => {
          seen.push(signal);
          controller.abort();
          throw new Error('failed while aborting');
        },
        { signal: controller.signal },
      );
      await expect(run).rejects.toThrow('failed while aborting');
      expect(seen).toEqual([controller.signal]);
      await expect(policy.execute(async () => 1, { signal: controller.signal })).rejects.toSatisfy(
        (e) => isBreakerError(e, 'ABORTED'),
      );
    });
  });

  describe('span events', () => {
    let sdk: OtelTestSdk;
    beforeAll(() => {
      sdk = otelTestSdk();
    });
    afterAll(() => sdk.shutdown());

    it('adds a retry event with attempt and delay to the active span', async () => {
      const clock = new ManualClock();
      const policy = retry({ clock, backoff: 'exponential', initialDelayMs: 100 });
      const tracer = trace.getTracer('test');
      await tracer.startActiveSpan('call downstream', async (span) => {
        await drive(clock, policy.execute(failing(2).fn));
        span.end();
      });
      const [span] = sdk.finishedSpans();
      expect(span!.events.map((e) => [e.name, e.attributes])).toEqual([
        ['retry', { 'ballast.breaker.retry.attempt': 2, 'ballast.breaker.retry.delay_ms': 100 }],
        ['retry', { 'ballast.breaker.retry.attempt': 3, 'ballast.breaker.retry.delay_ms': 200 }],
      ]);
    });
  });

  describe('options', () => {
    it.each([
      [{ maxAttempts: 0 }, 'maxAttempts'],
      [{ maxAttempts: 1.5 }, 'maxAttempts'],
      [{ maxAttempts: 1_000 }, 'maxAttempts'],
      [{ backoff: 'linear' }, 'backoff'],
      [{ initialDelayMs: -1 }, 'initialDelayMs'],
      [{ maxDelayMs: Number.POSITIVE_INFINITY }, 'maxDelayMs'],
      [{ multiplier: 0.5 }, 'multiplier'],
      [{ handleError: true }, 'handleError'],
      [{ handleResult: 'yes' }, 'handleResult'],
      [{ retryAfter: 5 }, 'retryAfter'],
      [{ budget: true }, 'budget'],
      [{ budget: { ratio: -0.1 } }, 'budget.ratio'],
      [{ budget: { minPerSecond: Number.NaN } }, 'budget.minPerSecond'],
      [{ budget: { windowMs: 0 } }, 'budget.windowMs'],
      [{ budget: { typo: 1 } }, 'budget.typo'],
      [{ clock: { now: () => 0 } }, 'clock'],
      [{ random: 0.5 }, 'random'],
      [{ maxAttemps: 3 }, 'maxAttemps'],
    ])('rejects %j naming %s', (options, option) => {
      let error: unknown;
      try {
        retry(options as unknown as RetryOptions);
      } catch (e) {
        error = e;
      }
      expect(isBreakerError(error, 'INVALID_OPTIONS')).toBe(true);
      expect((error as { option: string }).option).toBe(option);
      expect((error as Error).message).toContain('retry()');
    });
  });
});
