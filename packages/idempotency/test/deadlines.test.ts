import { afterEach, describe, expect, it, vi } from 'vitest';
import { isIdempotencyError, redisStore } from '../src/index.ts';

/** An ioredis look-alike whose commands never answer (a paused or unreachable Redis). */
function silentClient() {
  const never = () => new Promise<never>(() => {});
  return {
    status: 'connecting',
    defineCommand() {},
    quit: async () => 'OK',
    disconnect() {},
    setBuffer: never,
    evalsha: never,
    eval: never,
  };
}

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

describe('redisStore() deadlines', () => {
  it('bounds every in-flight command with one shared timer, not a timer per command', async () => {
    vi.useFakeTimers();
    const store = redisStore({ client: silentClient(), operationTimeoutMs: 1_000 });
    const setTimer = vi.spyOn(globalThis, 'setTimeout');
    const claims = Array.from({ length: 100 }, (_, i) =>
      store
        .claim({ key: `k${i}`, fingerprint: 'f', owner: 'o', lockTtlMs: 10_000 })
        .catch((error: unknown) => error),
    );
    expect(setTimer).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(999);
    const early = await Promise.race([claims[0], Promise.resolve('pending')]);
    expect(early).toBe('pending');
    await vi.advanceTimersByTimeAsync(1);
    const errors = await Promise.all(claims);
    expect(errors.every((e) => isIdempotencyError(e, 'STORE_UNAVAILABLE'))).toBe(true);
    expect((errors[0] as Error).message).toContain('within 1000 ms (operationTimeoutMs)');
  });

  it('later commands get their own full deadline from the same timer', async () => {
    vi.useFakeTimers();
    const store = redisStore({ client: silentClient(), operationTimeoutMs: 1_000 });
    const claim = (key: string) =>
      store.claim({ key, fingerprint: 'f', owner: 'o', lockTtlMs: 10_000 }).then(
        () => 'answered',
        (e: unknown) => (isIdempotencyError(e) ? e.code : 'other'),
      );
    const first = claim('a');
    await vi.advanceTimersByTimeAsync(600);
    const second = claim('b');
    await vi.advanceTimersByTimeAsync(400);
    expect(await first).toBe('STORE_UNAVAILABLE');
    const secondEarly = await Promise.race([second, Promise.resolve('pending')]);
    expect(secondEarly).toBe('pending');
    await vi.advanceTimersByTimeAsync(600);
    expect(await second).toBe('STORE_UNAVAILABLE');
  });
});
