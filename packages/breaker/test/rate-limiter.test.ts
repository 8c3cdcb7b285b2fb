import { ManualClock } from '@ballast/test-utils';
import { describe, expect, it } from 'vitest';
import {
  isBreakerError,
  RateLimitedError,
  type RateLimiterOptions,
  rateLimiter,
} from '../src/index.ts';

describe('rateLimiter', () => {
  it('allows a burst, then refuses with retryAfterMs until tokens refill', async () => {
    const clock = new ManualClock();
    const policy = rateLimiter({ ratePerSecond: 10, burst: 3, clock });
    for (let i = 0; i < 3; i++) await expect(policy.execute(async () => i)).resolves.toBe(i);
    const error = await policy.execute(async () => 'x').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RateLimitedError);
    expect(isBreakerError(error, 'RATE_LIMITED')).toBe(true);
    expect((error as RateLimitedError).retryAfterMs).toBeCloseTo(100);
    clock.advance(50);
    expect(
      (await policy
        .execute(async () => 'x')
        .catch((e: RateLimitedError) => e.retryAfterMs)) as number,
    ).toBeCloseTo(50);
    clock.advance(50);
    await expect(policy.execute(async () => 'refilled')).resolves.toBe('refilled');
  });

  it('never holds more than burst tokens, and burst defaults to the rate', () => {
    const clock = new ManualClock();
    const policy = rateLimiter({ ratePerSecond: 5, clock });
    expect(policy.burst).toBe(5);
    clock.advance(60_000);
    expect(policy.tokens).toBe(5);
    expect(rateLimiter({ ratePerSecond: 0.5 }).burst).toBe(1);
    for (let i = 0; i < 5; i++) expect(policy.tryAcquire()).toBe(0);
    expect(policy.tryAcquire()).toBeCloseTo(200);
  });

  it('rejects an aborted call without taking a token and passes errors through', async () => {
    const policy = rateLimiter({ ratePerSecond: 1, burst: 1, clock: new ManualClock() });
    await expect(policy.execute(async () => 1, { signal: AbortSignal.abort() })).rejects.toSatisfy(
      (e) => isBreakerError(e, 'ABORTED'),
    );
    await expect(
      policy.execute(() => {
        throw new Error('sync');
      }),
    ).rejects.toThrow('sync');
    expect(policy.tokens).toBe(0);
  });

  it.each([
    [{}, 'ratePerSecond'],
    [{ ratePerSecond: 0 }, 'ratePerSecond'],
    [{ ratePerSecond: -1 }, 'ratePerSecond'],
    [{ ratePerSecond: 1, burst: 0.5 }, 'burst'],
    [{ ratePerSecond: 1, clock: 1 }, 'clock'],
    [{ ratePerSecond: 1, rate: 1 }, 'rate'],
  ])('rejects %j naming %s', (options, option) => {
    expect(() => rateLimiter(options as unknown as RateLimiterOptions)).toThrow(
      expect.objectContaining({ code: 'INVALID_OPTIONS', option }),
    );
  });
});
