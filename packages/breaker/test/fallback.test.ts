import { describe, expect, expectTypeOf, it } from 'vitest';
import { AbortedError, type FallbackOptions, fallback } from '../src/index.ts';

describe('fallback', () => {
  it('serves a value instead of an error', async () => {
    const policy = fallback({ value: 'cached' });
    await expect(policy.execute(() => Promise.reject(new Error('down')))).resolves.toBe('cached');
    await expect(policy.execute(async () => 'fresh')).resolves.toBe('fresh');
    expectTypeOf(policy.execute(async () => 1)).toEqualTypeOf<Promise<number | string>>();
  });

  it('computes the fallback from the error', async () => {
    const policy = fallback({
      fn: (outcome) =>
        'error' in outcome ? `fallback: ${(outcome.error as Error).message}` : 'bad result',
    });
    await expect(
      policy.execute(() => {
        throw new Error('sync down');
      }),
    ).resolves.toBe('fallback: sync down');
  });

  it('replaces handled results too, and leaves unhandled errors alone', async () => {
    const policy = fallback({
      value: { status: 200, body: 'stale' },
      handleResult: (r) => (r as { status: number }).status >= 500,
      handleError: (e) => (e as Error).message !== 'bug',
    });
    await expect(policy.execute(async () => ({ status: 503, body: '' }))).resolves.toEqual({
      status: 200,
      body: 'stale',
    });
    await expect(policy.execute(async () => ({ status: 404, body: 'nf' }))).resolves.toEqual({
      status: 404,
      body: 'nf',
    });
    await expect(policy.execute(() => Promise.reject(new Error('bug')))).rejects.toThrow('bug');
  });

  it('does not hide an abort by default', async () => {
    const policy = fallback({ value: 0 });
    await expect(
      policy.execute(() => Promise.reject(new AbortedError('x'))),
    ).rejects.toBeInstanceOf(AbortedError);
  });

  it('a value of undefined is a valid fallback', async () => {
    const policy = fallback({ value: undefined });
    await expect(policy.execute(() => Promise.reject(new Error('x')))).resolves.toBeUndefined();
  });

  it.each([
    [{}, 'value'],
    [{ value: 1, fn: () => 2 }, 'value'],
    [{ fn: 'x' }, 'fn'],
    [{ value: 1, handleError: 1 }, 'handleError'],
    [{ value: 1, handleResult: {} }, 'handleResult'],
    [{ value: 1, default: 2 }, 'default'],
  ])('rejects %j naming %s', (options, option) => {
    expect(() => fallback(options as unknown as FallbackOptions<unknown>)).toThrow(
      expect.objectContaining({ code: 'INVALID_OPTIONS', option }),
    );
  });
});
