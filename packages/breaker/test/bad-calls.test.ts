import { describe, expect, it } from 'vitest';
import {
  bulkhead,
  circuitBreaker,
  fallback,
  hedge,
  isBreakerError,
  type Policy,
  pipeline,
  rateLimiter,
  retry,
  timeout,
} from '../src/index.ts';

// Issue 10 item 8: bad arguments to execute() are refused with a typed error, never a raw TypeError,
// and never by running something.
const policies: [string, () => Policy][] = [
  ['retry', () => retry()],
  ['pipeline', () => pipeline(retry(), circuitBreaker()) as Policy],
  ['empty pipeline', () => pipeline() as Policy],
  ['circuitBreaker', () => circuitBreaker()],
  ['timeout', () => timeout({ timeoutMs: 1_000 })],
  ['bulkhead', () => bulkhead({ maxConcurrent: 1 })],
  ['hedge', () => hedge({ delayMs: 1_000 })],
  ['rateLimiter', () => rateLimiter({ ratePerSecond: 10 })],
  ['fallback', () => fallback({ value: 'served' }) as Policy],
];

async function refusal(run: () => Promise<unknown>): Promise<unknown> {
  try {
    await run();
  } catch (error) {
    return error;
  }
  return expect.unreachable('the call was accepted');
}

describe.each(policies)('%s.execute()', (_name, make) => {
  it.each([[123], [null], [undefined], ['fn']])(
    'refuses work %j that is not a function',
    async (fn) => {
      const error = await refusal(() => make().execute(fn as never));
      if (!isBreakerError(error, 'INVALID_OPTIONS')) return expect.unreachable(String(error));
      expect(error.option).toBe('fn');
      expect(error.received).toBe(fn);
      expect(error.message).toMatch(/^execute\(\): the work must be a function/);
    },
  );

  it.each([['x'], [{}], [42], [{ aborted: false }]])(
    'refuses a signal %j that is not an AbortSignal',
    async (signal) => {
      let ran = false;
      const error = await refusal(() =>
        make().execute(
          async () => {
            ran = true;
          },
          { signal: signal as never },
        ),
      );
      if (!isBreakerError(error, 'INVALID_OPTIONS')) return expect.unreachable(String(error));
      expect(error.option).toBe('signal');
      expect(ran).toBe(false);
    },
  );

  it('refuses options that are not an object', async () => {
    const error = await refusal(() => make().execute(async () => 1, 'x' as never));
    expect(isBreakerError(error, 'INVALID_OPTIONS') && error.option).toBe('(options)');
  });

  it('still accepts { signal: undefined } and a real signal', async () => {
    const policy = make();
    await expect(policy.execute(async () => 1, { signal: undefined })).resolves.toBe(1);
    await expect(
      policy.execute(async () => 2, { signal: new AbortController().signal }),
    ).resolves.toBe(2);
  });
});
