import { getEventListeners } from 'node:events';
import { ManualClock } from '@ballast/test-utils';
import { describe, expect, it } from 'vitest';
import { type HedgeOptions, hedge, isBreakerError } from '../src/index.ts';

/** Work whose attempts the test settles by hand. */
function controlled() {
  const attempts: {
    attempt: number;
    signal: AbortSignal;
    resolve: (v: string) => void;
    reject: (e: unknown) => void;
  }[] = [];
  const fn = ({ attempt, signal }: { attempt: number; signal: AbortSignal }) =>
    new Promise<string>((resolve, reject) => attempts.push({ attempt, signal, resolve, reject }));
  return { fn, attempts };
}

describe('hedge', () => {
  it('starts another attempt after the delay; the first success wins and the loser is aborted', async () => {
    const clock = new ManualClock();
    const policy = hedge({ delayMs: 50, clock });
    const { fn, attempts } = controlled();
    const run = policy.execute(fn);
    expect(attempts.map((a) => a.attempt)).toEqual([1]);
    await clock.advanceAsync(49);
    expect(attempts).toHaveLength(1);
    await clock.advanceAsync(1);
    expect(attempts.map((a) => a.attempt)).toEqual([1, 2]);
    attempts[1]!.resolve('hedged');
    await expect(run).resolves.toBe('hedged');
    expect(attempts[0]!.signal.aborted).toBe(true);
    expect(attempts[1]!.signal.aborted).toBe(false);
    attempts[0]!.resolve('too late');
    expect(clock.pending).toBe(0);
  });

  it('abortLosers: false lets the losing attempt finish, its result dropped', async () => {
    const clock = new ManualClock();
    const policy = hedge({ delayMs: 50, abortLosers: false, clock });
    const { fn, attempts } = controlled();
    const run = policy.execute(fn);
    await clock.advanceAsync(50);
    attempts[1]!.resolve('hedged');
    await expect(run).resolves.toBe('hedged');
    expect(attempts[0]!.signal.aborted).toBe(false);
    attempts[0]!.reject(new Error('late failure, ignored'));
    expect(clock.pending).toBe(0);
    // the caller's abort still reaches every attempt
    const controller = new AbortController();
    const aborted = policy.execute(fn, { signal: controller.signal });
    await clock.advanceAsync(50);
    controller.abort(new Error('caller left'));
    await expect(aborted).rejects.toSatisfy((e) => isBreakerError(e, 'ABORTED'));
    expect(attempts.slice(2).every((a) => a.signal.aborted)).toBe(true);
  });

  it('does not hedge a fast call and clears its timer', async () => {
    const clock = new ManualClock();
    const policy = hedge({ delayMs: 50, clock });
    await expect(policy.execute(async ({ attempt }) => `attempt ${attempt}`)).resolves.toBe(
      'attempt 1',
    );
    expect(clock.pending).toBe(0);
  });

  it('starts up to maxHedgedAttempts extra attempts', async () => {
    const clock = new ManualClock();
    const policy = hedge({ delayMs: 10, maxHedgedAttempts: 2, clock });
    const { fn, attempts } = controlled();
    const run = policy.execute(fn);
    await clock.advanceAsync(100);
    expect(attempts.map((a) => a.attempt)).toEqual([1, 2, 3]);
    attempts[0]!.resolve('first');
    await expect(run).resolves.toBe('first');
    expect(attempts.slice(1).every((a) => a.signal.aborted)).toBe(true);
  });

  it('a failed attempt starts the next one at once; all failing rejects with the last error', async () => {
    const clock = new ManualClock();
    const policy = hedge({ delayMs: 1_000, maxHedgedAttempts: 1, clock });
    const { fn, attempts } = controlled();
    const run = policy.execute(fn).catch((e: unknown) => e);
    attempts[0]!.reject(new Error('first failed'));
    await clock.advanceAsync(0);
    expect(attempts).toHaveLength(2);
    attempts[1]!.reject(new Error('second failed'));
    expect(((await run) as Error).message).toBe('second failed');
    expect(clock.pending).toBe(0);
  });

  it('waits for a running attempt when another fails', async () => {
    const clock = new ManualClock();
    const policy = hedge({ delayMs: 10, clock });
    const { fn, attempts } = controlled();
    const run = policy.execute(fn);
    await clock.advanceAsync(10);
    attempts[1]!.reject(new Error('hedge failed'));
    await clock.advanceAsync(0);
    attempts[0]!.resolve('primary');
    await expect(run).resolves.toBe('primary');
  });

  it('uses a quantile of observed latency once enough samples exist', async () => {
    const clock = new ManualClock();
    const policy = hedge({ delayMs: 500, quantile: 0.9, minSamples: 10, windowSize: 10, clock });
    expect(policy.delayMs).toBe(500);
    for (let i = 1; i <= 10; i++) {
      const { fn, attempts } = controlled();
      const run = policy.execute(fn);
      await clock.advanceAsync(i * 10);
      attempts[0]!.resolve('ok');
      await run;
    }
    expect(policy.delayMs).toBe(100);
    // The window is bounded: ten fast calls replace the slow history.
    for (let i = 0; i < 10; i++) {
      const { fn, attempts } = controlled();
      const run = policy.execute(fn);
      await clock.advanceAsync(5);
      attempts[0]!.resolve('ok');
      await run;
    }
    expect(policy.delayMs).toBe(5);
  });

  it('a caller abort aborts every attempt, rejects at once and cleans up', async () => {
    const clock = new ManualClock();
    const policy = hedge({ delayMs: 10, clock });
    const { fn, attempts } = controlled();
    const caller = new AbortController();
    const run = policy.execute(fn, { signal: caller.signal });
    await clock.advanceAsync(10);
    caller.abort(new Error('bye'));
    await expect(run).rejects.toSatisfy((e) => isBreakerError(e, 'ABORTED'));
    expect(
      attempts.every((a) => a.signal.aborted && (a.signal.reason as Error).message === 'bye'),
    ).toBe(true);
    expect(clock.pending).toBe(0);
    expect(getEventListeners(caller.signal, 'abort')).toHaveLength(0);
  });

  it.each([
    [{}, 'delayMs'],
    [{ delayMs: -1 }, 'delayMs'],
    [{ delayMs: 1, quantile: 1 }, 'quantile'],
    [{ delayMs: 1, quantile: 0 }, 'quantile'],
    [{ delayMs: 1, windowSize: 0 }, 'windowSize'],
    [{ delayMs: 1, minSamples: 0 }, 'minSamples'],
    [{ delayMs: 1, minSamples: 200, windowSize: 100 }, 'minSamples'],
    [{ delayMs: 1, maxHedgedAttempts: 0 }, 'maxHedgedAttempts'],
    [{ delayMs: 1, maxHedgedAttempts: 11 }, 'maxHedgedAttempts'],
    [{ delayMs: 1, clock: 'now' }, 'clock'],
    [{ delayMs: 1, delay: 2 }, 'delay'],
  ])('rejects %j naming %s', (options, option) => {
    expect(() => hedge(options as unknown as HedgeOptions)).toThrow(
      expect.objectContaining({ code: 'INVALID_OPTIONS', option }),
    );
  });
});
