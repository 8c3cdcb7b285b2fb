import { getEventListeners } from 'node:events';
import { ManualClock } from '@ballast/test-utils';
import { describe, expect, expectTypeOf, it } from 'vitest';
import {
  type AttemptContext,
  bulkhead,
  circuitBreaker,
  fallback,
  isBreakerError,
  type Policy,
  pipeline,
  retry,
  TimeoutError,
  timeout,
  type Work,
} from '../src/index.ts';

/** A policy that records when it is entered, to check the composition order. */
function tracing(name: string, log: string[]): Policy {
  return {
    async execute<T>(fn: Work<T>, options?: { signal?: AbortSignal; attempt?: number }) {
      log.push(`enter ${name}`);
      try {
        return await fn({
          signal: options?.signal ?? new AbortController().signal,
          attempt: options?.attempt ?? 1,
        });
      } finally {
        log.push(`leave ${name}`);
      }
    },
  };
}

describe('pipeline', () => {
  it('composes outer to inner', async () => {
    const log: string[] = [];
    const policy = pipeline(tracing('a', log), tracing('b', log), tracing('c', log));
    await expect(
      policy.execute(async () => {
        log.push('work');
        return 'done';
      }),
    ).resolves.toBe('done');
    expect(log).toEqual(['enter a', 'enter b', 'enter c', 'work', 'leave c', 'leave b', 'leave a']);
    expect(policy.policies).toHaveLength(3);
  });

  it('passes { signal, attempt } to the work, with retry numbering the attempts', async () => {
    const clock = new ManualClock();
    const caller = new AbortController();
    const seen: { attempt: number; aborted: boolean }[] = [];
    const policy = pipeline(
      timeout({ timeoutMs: 5_000, clock }),
      retry({ clock, initialDelayMs: 0 }),
      circuitBreaker({ minimumCalls: 100 }),
    );
    const run = policy.execute(
      async ({ signal, attempt }: AttemptContext) => {
        seen.push({ attempt, aborted: signal.aborted });
        if (attempt < 3) throw new Error('again');
        return attempt;
      },
      { signal: caller.signal },
    );
    await clock.advanceAsync(0);
    await clock.advanceAsync(0);
    await expect(run).resolves.toBe(3);
    expect(seen).toEqual([
      { attempt: 1, aborted: false },
      { attempt: 2, aborted: false },
      { attempt: 3, aborted: false },
    ]);
    expect(getEventListeners(caller.signal, 'abort')).toHaveLength(0);
  });

  it('lets the result type flow through, widened by a fallback', () => {
    const plain = pipeline(timeout({ timeoutMs: 100 }), retry(), circuitBreaker());
    expectTypeOf(plain.execute(async () => 42)).toEqualTypeOf<Promise<number>>();
    expectTypeOf(plain.execute(() => 'sync')).toEqualTypeOf<Promise<string>>();
    const withFallback = pipeline(fallback({ value: null }), retry(), circuitBreaker());
    expectTypeOf(withFallback.execute(async () => ({ id: 1 }))).toEqualTypeOf<
      Promise<{ id: number } | null>
    >();
    const nested = pipeline(timeout({ timeoutMs: 100 }), withFallback);
    expectTypeOf(nested.execute(async () => 1)).toEqualTypeOf<Promise<number | null>>();
    expectTypeOf(pipeline(retry()).execute)
      .parameter(0)
      .parameter(0)
      .toEqualTypeOf<AttemptContext>();
    // A pipeline without a fallback is itself a Policy (it nests, and fits `breakers.get()`).
    const asPolicy: Policy = plain;
    expectTypeOf(asPolicy.execute(async () => 'x')).toEqualTypeOf<Promise<string>>();
  });

  it('a caller abort reaches the work signal through retry, timeout, breaker and bulkhead', async () => {
    const clock = new ManualClock();
    const caller = new AbortController();
    const breaker = circuitBreaker();
    const policy = pipeline(
      retry({ clock }),
      timeout({ timeoutMs: 10_000, clock }),
      breaker,
      bulkhead({ maxConcurrent: 1 }),
    );
    let signal!: AbortSignal;
    let attempts = 0;
    const run = policy.execute(
      (ctx) => {
        attempts++;
        signal = ctx.signal;
        return new Promise<never>((_, reject) =>
          ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason), { once: true }),
        );
      },
      { signal: caller.signal },
    );
    await clock.advanceAsync(0);
    expect(signal.aborted).toBe(false);
    caller.abort(new Error('client closed the connection'));
    await expect(run).rejects.toThrow('client closed the connection');
    expect(signal.aborted).toBe(true);
    expect(attempts).toBe(1);
    expect(getEventListeners(caller.signal, 'abort')).toHaveLength(0);
    expect(clock.pending).toBeLessThanOrEqual(1);
  });

  it('a timeout that gives up aborts the work it started, inside retry and breaker', async () => {
    const clock = new ManualClock();
    const policy = pipeline(
      timeout({ timeoutMs: 100, strategy: 'aggressive', clock }),
      retry({ clock }),
      circuitBreaker(),
    );
    let signal!: AbortSignal;
    const run = policy
      .execute(({ signal: s }) => {
        signal = s;
        return new Promise<never>(() => {});
      })
      .catch((e: unknown) => e);
    await clock.advanceAsync(100);
    expect(await run).toBeInstanceOf(TimeoutError);
    expect(signal.aborted).toBe(true);
    expect(signal.reason).toBeInstanceOf(TimeoutError);
  });

  it('a timeout inside the breaker counts as a failure, even with a caller signal', async () => {
    const clock = new ManualClock();
    const breaker = circuitBreaker({ windowType: 'consecutive', consecutiveFailures: 1 });
    const policy = pipeline(breaker, timeout({ timeoutMs: 100, strategy: 'aggressive', clock }));
    const caller = new AbortController();
    const run = policy
      .execute(() => new Promise<never>(() => {}), { signal: caller.signal })
      .catch((e: unknown) => e);
    await clock.advanceAsync(100);
    expect(await run).toBeInstanceOf(TimeoutError);
    expect(caller.signal.aborted).toBe(false);
    expect(breaker.state).toBe('OPEN');
  });

  it('a timeout outside the breaker aborts its signal: the call is ignored, not a failure', async () => {
    const clock = new ManualClock();
    const breaker = circuitBreaker({ windowType: 'consecutive', consecutiveFailures: 1 });
    const ignored: unknown[] = [];
    breaker.onIgnored(({ error }) => ignored.push(error));
    const policy = pipeline(timeout({ timeoutMs: 100, clock }), breaker);
    const run = policy
      .execute(
        ({ signal }) =>
          new Promise<never>((_, reject) =>
            signal.addEventListener('abort', () => reject(signal.reason), { once: true }),
          ),
      )
      .catch((e: unknown) => e);
    await clock.advanceAsync(100);
    const error = await run;
    expect(error).toBeInstanceOf(TimeoutError);
    expect(ignored).toEqual([error]);
    expect(breaker.state).toBe('CLOSED');
  });

  it('an already aborted signal never runs the work', async () => {
    let ran = false;
    const policy = pipeline(timeout({ timeoutMs: 100 }), retry(), circuitBreaker());
    const error = await policy
      .execute(
        () => {
          ran = true;
        },
        { signal: AbortSignal.abort('early') },
      )
      .catch((e: unknown) => e);
    expect(isBreakerError(error, 'ABORTED')).toBe(true);
    expect(ran).toBe(false);
  });

  it('leaves no listener or timer behind after 10,000 calls', async () => {
    const clock = new ManualClock();
    const caller = new AbortController();
    const limiter = bulkhead({ maxConcurrent: 8, maxQueue: 10_000 });
    const deadline = timeout({ timeoutMs: 1_000, clock });
    const policy = pipeline(
      deadline,
      retry({ clock, initialDelayMs: 0 }),
      circuitBreaker({ windowType: 'consecutive', consecutiveFailures: 1_000 }),
      limiter,
    );
    const resourcesBefore = process.getActiveResourcesInfo().length;
    const batch: Promise<unknown>[] = [];
    for (let i = 0; i < 10_000; i++) {
      batch.push(
        policy.execute(
          async ({ signal, attempt }) => {
            if (i % 2 === 0) signal.addEventListener('abort', () => {}, { once: true });
            if (i % 10 === 0 && attempt === 1) throw new Error('transient');
            return i;
          },
          { signal: caller.signal },
        ),
      );
      if (batch.length === 100) {
        await clock.advanceAsync(0);
        await Promise.all(batch);
        batch.length = 0;
      }
    }
    expect(getEventListeners(caller.signal, 'abort')).toHaveLength(0);
    expect(deadline.pending).toBe(0);
    expect(limiter.running + limiter.queued).toBe(0);
    await clock.advanceAsync(1_000);
    expect(clock.pending).toBe(0);
    expect(process.getActiveResourcesInfo().length).toBeLessThanOrEqual(resourcesBefore);
  });

  it('with the real clock too: nothing left after 10,000 calls', async () => {
    const policy = pipeline(timeout({ timeoutMs: 60_000 }), retry(), circuitBreaker());
    const caller = new AbortController();
    const before = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    for (let i = 0; i < 10_000; i++)
      await policy.execute(async ({ signal }) => signal.aborted, { signal: caller.signal });
    expect(getEventListeners(caller.signal, 'abort')).toHaveLength(0);
    expect(process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length).toBe(before);
  });

  it.each([
    [[null], 'policies[0]'],
    [[retry(), 'timeout'], 'policies[1]'],
    [[retry(), {}, circuitBreaker()], 'policies[1]'],
    [[{ execute: true }], 'policies[0]'],
  ])('rejects a non-policy argument %#, naming %s', (policies, option) => {
    expect(() => pipeline(...(policies as unknown as Policy[]))).toThrow(
      expect.objectContaining({
        code: 'INVALID_OPTIONS',
        option,
        message: expect.stringContaining('pipeline()'),
      }),
    );
  });

  it('an empty pipeline just runs the work', async () => {
    await expect(pipeline().execute(async ({ attempt }) => attempt)).resolves.toBe(1);
  });
});
