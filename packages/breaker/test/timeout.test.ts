import { getEventListeners } from 'node:events';
import { flushMicrotasks, ManualClock } from '@ballast/test-utils';
import { describe, expect, it } from 'vitest';
import { isBreakerError, TimeoutError, type TimeoutOptions, timeout } from '../src/index.ts';

/** A promise plus its resolve/reject, to settle the work when a test says so. */
function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

describe('timeout', () => {
  it('cooperative: aborts the signal at the deadline and waits for the work to settle', async () => {
    const clock = new ManualClock();
    const policy = timeout({ timeoutMs: 1_000, clock });
    const work = deferred<string>();
    let signal!: AbortSignal;
    let settled = false;
    const run = policy.execute((ctx) => {
      signal = ctx.signal;
      return work.promise;
    });
    run.then(
      () => (settled = true),
      () => (settled = true),
    );
    await clock.advanceAsync(999);
    expect(signal.aborted).toBe(false);
    await clock.advanceAsync(1);
    expect(signal.aborted).toBe(true);
    expect(signal.reason).toBeInstanceOf(TimeoutError);
    expect(settled).toBe(false);
    work.reject(signal.reason);
    const error = await run.catch((e: unknown) => e);
    expect(isBreakerError(error, 'TIMEOUT')).toBe(true);
    expect((error as TimeoutError).timeoutMs).toBe(1_000);
    expect((error as Error).message).toContain('1000 ms');
  });

  it('cooperative: a work error after the deadline becomes a TimeoutError with that error as cause', async () => {
    const clock = new ManualClock();
    const policy = timeout({ timeoutMs: 10, clock });
    const work = deferred<number>();
    const run = policy.execute(() => work.promise).catch((e: unknown) => e);
    await clock.advanceAsync(10);
    work.reject(new Error('socket hang up'));
    const error = (await run) as TimeoutError;
    expect(error).toBeInstanceOf(TimeoutError);
    expect((error.cause as Error).message).toBe('socket hang up');
  });

  it('cooperative: a value that still arrives after the deadline is returned', async () => {
    const clock = new ManualClock();
    const policy = timeout({ timeoutMs: 10, clock });
    const work = deferred<number>();
    const run = policy.execute(() => work.promise);
    await clock.advanceAsync(10);
    work.resolve(42);
    await expect(run).resolves.toBe(42);
  });

  it('cooperative: a work error before the deadline passes through unchanged', async () => {
    const policy = timeout({ timeoutMs: 1_000, clock: new ManualClock() });
    await expect(policy.execute(() => Promise.reject(new Error('own error')))).rejects.toThrow(
      'own error',
    );
    await expect(
      policy.execute(() => {
        throw new Error('sync throw');
      }),
    ).rejects.toThrow('sync throw');
  });

  it('aggressive: rejects at the deadline without waiting, and aborts the work', async () => {
    const clock = new ManualClock();
    const policy = timeout({ timeoutMs: 500, strategy: 'aggressive', clock });
    let signal!: AbortSignal;
    const run = policy.execute((ctx) => {
      signal = ctx.signal;
      return new Promise<never>(() => {});
    });
    const outcome = run.catch((e: unknown) => e);
    await clock.advanceAsync(500);
    expect(await outcome).toBeInstanceOf(TimeoutError);
    expect(signal.aborted).toBe(true);
    expect(policy.pending).toBe(0);
  });

  it('aggressive: passes values and errors through before the deadline', async () => {
    const policy = timeout({ timeoutMs: 500, strategy: 'aggressive', clock: new ManualClock() });
    await expect(policy.execute(async () => 'fast')).resolves.toBe('fast');
    await expect(policy.execute(async () => Promise.reject(new Error('no')))).rejects.toThrow('no');
    await expect(
      policy.execute(() => {
        throw new Error('sync');
      }),
    ).rejects.toThrow('sync');
  });

  it('never aborts the signal of a call that succeeded, and leaves no timer soon after', async () => {
    const clock = new ManualClock();
    const policy = timeout({ timeoutMs: 100, clock });
    const signals: AbortSignal[] = [];
    for (let i = 0; i < 5; i++) {
      await policy.execute(async ({ signal }) => {
        signals.push(signal);
        return i;
      });
    }
    expect(policy.pending).toBe(0);
    await clock.advanceAsync(1_000);
    expect(signals.every((s) => !s.aborted)).toBe(true);
    expect(clock.pending).toBe(0);
  });

  it('shares one timer between concurrent calls: never early, at most two ticks late', async () => {
    const clock = new ManualClock();
    const timeoutMs = 320; // ticks every 10 ms
    const policy = timeout({ timeoutMs, clock });
    const lateness: number[] = [];
    const runs: Promise<unknown>[] = [];
    const start = (addedAt: number) =>
      runs.push(
        policy
          .execute(
            ({ signal }) =>
              new Promise<never>((_, reject) =>
                signal.addEventListener('abort', () => {
                  lateness.push(clock.now() - addedAt - timeoutMs);
                  reject(signal.reason);
                }),
              ),
          )
          .catch((e: unknown) => e),
      );
    for (const step of [0, 0, 3, 7, 13, 1, 29, 64, 5, 250, 90]) {
      await clock.advanceAsync(step);
      start(clock.now());
    }
    expect(clock.pending).toBe(1);
    await clock.advanceAsync(2 * timeoutMs);
    const errors = await Promise.all(runs);
    expect(errors.every((e) => e instanceof TimeoutError)).toBe(true);
    expect(lateness).toHaveLength(11);
    expect(Math.min(...lateness)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...lateness)).toBeLessThanOrEqual(20);
    expect(lateness[0]).toBe(0); // the first call after a quiet period gets an exact deadline
    expect(policy.pending).toBe(0);
    await clock.advanceAsync(100);
    expect(clock.pending).toBe(0);
  });

  it('keeps ticking only while calls come and go', async () => {
    const clock = new ManualClock();
    const policy = timeout({ timeoutMs: 320, clock });
    await policy.execute(async () => 1);
    expect(clock.pending).toBe(1);
    for (let i = 0; i < 5; i++) {
      await clock.advanceAsync(10);
      await policy.execute(async () => i);
      expect(clock.pending).toBe(1);
    }
    await clock.advanceAsync(10);
    await clock.advanceAsync(10);
    expect(clock.pending).toBe(0);
  });

  it('propagates the caller abort to the work signal and removes its listener', async () => {
    const clock = new ManualClock();
    const policy = timeout({ timeoutMs: 1_000, clock });
    const caller = new AbortController();
    let signal!: AbortSignal;
    const run = policy.execute(
      (ctx) => {
        signal = ctx.signal;
        return new Promise<never>((_, reject) =>
          ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason)),
        );
      },
      { signal: caller.signal },
    );
    expect(getEventListeners(caller.signal, 'abort')).toHaveLength(1);
    caller.abort(new Error('user left'));
    await expect(run).rejects.toThrow('user left');
    expect(signal.aborted).toBe(true);
    expect(getEventListeners(caller.signal, 'abort')).toHaveLength(0);
  });

  it('aggressive: a caller abort rejects at once with AbortedError', async () => {
    const policy = timeout({ timeoutMs: 1_000, strategy: 'aggressive', clock: new ManualClock() });
    const caller = new AbortController();
    const run = policy.execute(() => new Promise<never>(() => {}), { signal: caller.signal });
    caller.abort('stop');
    await expect(run).rejects.toSatisfy((e) => isBreakerError(e, 'ABORTED') && e.cause === 'stop');
    expect(getEventListeners(caller.signal, 'abort')).toHaveLength(0);
  });

  it('rejects a call whose signal is already aborted without running it', async () => {
    const policy = timeout({ timeoutMs: 1_000 });
    let ran = false;
    await expect(
      policy.execute(
        () => {
          ran = true;
        },
        { signal: AbortSignal.abort() },
      ),
    ).rejects.toSatisfy((e) => isBreakerError(e, 'ABORTED'));
    expect(ran).toBe(false);
  });

  it('its shared deadline ticker is unref()ed housekeeping, and close() cancels it', async () => {
    const before = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const policy = timeout({ timeoutMs: 60_000 });
    await policy.execute(async () => 1);
    expect(process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length).toBe(before);
    await policy[Symbol.asyncDispose]();
    const clock = new ManualClock();
    const manual = timeout({ timeoutMs: 60_000, clock });
    await manual.execute(async () => 1);
    expect(clock.pending).toBe(1);
    manual.close();
    expect(clock.pending).toBe(0);
    await flushMicrotasks();
  });

  it('refuses new work once closed (POLICY_CLOSED); a call in flight keeps its deadline', async () => {
    const clock = new ManualClock();
    const policy = timeout({ timeoutMs: 100, clock });
    const inFlight = policy.execute(
      ({ signal }) =>
        new Promise((_, reject) => {
          signal.addEventListener('abort', () => reject(signal.reason));
        }),
    );
    policy.close();
    let ran = false;
    await expect(
      policy.execute(async () => {
        ran = true;
      }),
    ).rejects.toSatisfy((e) => isBreakerError(e, 'POLICY_CLOSED') && e.policy === 'timeout');
    expect(ran).toBe(false);
    const outcome = inFlight.catch((e: unknown) => e);
    await clock.advanceAsync(200);
    expect(isBreakerError(await outcome, 'TIMEOUT')).toBe(true);
  });

  it.each([
    [{}, 'timeoutMs'],
    [{ timeoutMs: 0 }, 'timeoutMs'],
    [{ timeoutMs: -5 }, 'timeoutMs'],
    [{ timeoutMs: '100' }, 'timeoutMs'],
    [{ timeoutMs: Number.POSITIVE_INFINITY }, 'timeoutMs'],
    [{ timeoutMs: 10, strategy: 'rude' }, 'strategy'],
    [{ timeoutMs: 10, clock: Date }, 'clock'],
    [{ timeoutMs: 10, timeout: 5 }, 'timeout'],
  ])('rejects %j naming %s', (options, option) => {
    expect(() => timeout(options as unknown as TimeoutOptions)).toThrow(
      expect.objectContaining({ code: 'INVALID_OPTIONS', option }),
    );
  });
});
