import { getEventListeners } from 'node:events';
import { ManualClock } from '@ballast/test-utils';
import { describe, expect, it } from 'vitest';
import { BulkheadFullError, type BulkheadOptions, bulkhead, isBreakerError } from '../src/index.ts';

function gate() {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}

describe('bulkhead', () => {
  it('runs at most maxConcurrent calls and queues the next ones in order', async () => {
    const policy = bulkhead({ maxConcurrent: 2, maxQueue: 2 });
    const gates = [gate(), gate(), gate(), gate()];
    const started: number[] = [];
    const runs = gates.map((g, i) =>
      policy.execute(async () => {
        started.push(i);
        await g.promise;
        return i;
      }),
    );
    await Promise.resolve();
    expect(started).toEqual([0, 1]);
    expect([policy.running, policy.queued]).toEqual([2, 2]);
    gates[1]!.open();
    await runs[1];
    await new Promise((r) => setImmediate(r));
    expect(started).toEqual([0, 1, 2]);
    for (const g of gates) g.open();
    expect(await Promise.all(runs)).toEqual([0, 1, 2, 3]);
    expect([policy.running, policy.queued]).toEqual([0, 0]);
  });

  it('refuses with BulkheadFullError when slots and queue are full', async () => {
    const policy = bulkhead({ maxConcurrent: 1 });
    const g = gate();
    const first = policy.execute(() => g.promise);
    const error = await policy.execute(async () => 'never').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BulkheadFullError);
    expect(isBreakerError(error, 'BULKHEAD_FULL')).toBe(true);
    expect((error as BulkheadFullError).maxConcurrent).toBe(1);
    expect((error as Error).message).toContain('maxConcurrent');
    g.open();
    await first;
    await expect(policy.execute(async () => 'now')).resolves.toBe('now');
  });

  it('releases the slot when the work throws', async () => {
    const policy = bulkhead({ maxConcurrent: 1 });
    await expect(policy.execute(() => Promise.reject(new Error('x')))).rejects.toThrow('x');
    await expect(
      policy.execute(() => {
        throw new Error('sync');
      }),
    ).rejects.toThrow('sync');
    expect(policy.running).toBe(0);
  });

  it('gives up a queued call after queueTimeoutMs', async () => {
    const clock = new ManualClock();
    const policy = bulkhead({ maxConcurrent: 1, maxQueue: 1, queueTimeoutMs: 50, clock });
    const g = gate();
    const first = policy.execute(() => g.promise);
    const queued = policy.execute(async () => 'late').catch((e: unknown) => e);
    await clock.advanceAsync(50);
    const error = await queued;
    expect(isBreakerError(error, 'BULKHEAD_FULL')).toBe(true);
    expect((error as Error).message).toContain('queueTimeoutMs');
    expect(policy.queued).toBe(0);
    g.open();
    await first;
    expect(clock.pending).toBe(0);
  });

  it('an aborted caller leaves the queue at once and its listener is removed', async () => {
    const clock = new ManualClock();
    const policy = bulkhead({ maxConcurrent: 1, maxQueue: 5, queueTimeoutMs: 1_000, clock });
    const g = gate();
    const first = policy.execute(() => g.promise);
    const caller = new AbortController();
    let ran = false;
    const queued = policy.execute(
      async () => {
        ran = true;
      },
      { signal: caller.signal },
    );
    const other = policy.execute(async () => 'other');
    expect(policy.queued).toBe(2);
    caller.abort(new Error('gone'));
    await expect(queued).rejects.toSatisfy((e) => isBreakerError(e, 'ABORTED'));
    expect(policy.queued).toBe(1);
    expect(getEventListeners(caller.signal, 'abort')).toHaveLength(0);
    g.open();
    await first;
    await expect(other).resolves.toBe('other');
    expect(ran).toBe(false);
    expect(clock.pending).toBe(0);
  });

  it('removes the abort listener of a queued caller that got its slot', async () => {
    const policy = bulkhead({ maxConcurrent: 1, maxQueue: 1 });
    const g = gate();
    const caller = new AbortController();
    const first = policy.execute(() => g.promise);
    const queued = policy.execute(async ({ signal }) => signal === caller.signal, {
      signal: caller.signal,
    });
    expect(getEventListeners(caller.signal, 'abort')).toHaveLength(1);
    g.open();
    await first;
    await expect(queued).resolves.toBe(true);
    expect(getEventListeners(caller.signal, 'abort')).toHaveLength(0);
  });

  it('close() rejects the waiting callers and clears their timers; running calls finish; new work is refused', async () => {
    const clock = new ManualClock();
    const policy = bulkhead({ maxConcurrent: 1, maxQueue: 2, queueTimeoutMs: 1_000, clock });
    const g = gate();
    const running = policy.execute(async () => {
      await g.promise;
      return 'done';
    });
    const waiting = [policy.execute(async () => 1), policy.execute(async () => 2)].map((p) =>
      p.catch((e: unknown) => e),
    );
    await policy[Symbol.asyncDispose]();
    for (const error of await Promise.all(waiting))
      expect(isBreakerError(error, 'ABORTED')).toBe(true);
    expect(clock.pending).toBe(0);
    g.open();
    await expect(running).resolves.toBe('done');
    let ran = false;
    await expect(
      policy.execute(async () => {
        ran = true;
      }),
    ).rejects.toSatisfy((e) => isBreakerError(e, 'POLICY_CLOSED') && e.policy === 'bulkhead');
    expect(ran).toBe(false);
  });

  it.each([
    [{}, 'maxConcurrent'],
    [{ maxConcurrent: 0 }, 'maxConcurrent'],
    [{ maxConcurrent: 2.5 }, 'maxConcurrent'],
    [{ maxConcurrent: 1, maxQueue: -1 }, 'maxQueue'],
    [{ maxConcurrent: 1, queueTimeoutMs: 0 }, 'queueTimeoutMs'],
    [{ maxConcurrent: 1, clock: {} }, 'clock'],
    [{ maxConcurrent: 1, limit: 3 }, 'limit'],
  ])('rejects %j naming %s', (options, option) => {
    expect(() => bulkhead(options as unknown as BulkheadOptions)).toThrow(
      expect.objectContaining({ code: 'INVALID_OPTIONS', option }),
    );
  });
});
