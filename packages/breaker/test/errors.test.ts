import { describe, expect, expectTypeOf, it } from 'vitest';
import {
  AbortedError,
  BreakerError,
  type BreakerErrorCode,
  BreakerIsolatedError,
  BreakerOpenError,
  BulkheadFullError,
  InvalidOptionsError,
  InvalidSnapshotError,
  isBreakerError,
  PolicyClosedError,
  RateLimitedError,
  RetryBudgetExhaustedError,
  retry,
  TimeoutError,
} from '../src/index.ts';

// The type assertions are checked by `tsc` (npm run typecheck), the rest by vitest.
describe('isBreakerError', () => {
  it('narrows to the class of the code, without a cast', () => {
    const error: unknown = new TimeoutError(250);
    if (isBreakerError(error, 'TIMEOUT')) {
      expectTypeOf(error).toEqualTypeOf<TimeoutError>();
      expect(error.timeoutMs).toBe(250);
    } else expect.unreachable();
    const any: unknown = new AbortedError('r');
    if (isBreakerError(any)) expectTypeOf(any.code).toEqualTypeOf<BreakerErrorCode>();
    const open: unknown = new BreakerOpenError('payments', 'OPEN', 1_000);
    if (isBreakerError(open, 'BREAKER_OPEN')) {
      expectTypeOf(open.retryAfterMs).toEqualTypeOf<number | undefined>();
      expect(open.retryAfterMs).toBe(1_000);
    } else expect.unreachable();
  });

  it('maps every code to its own class', () => {
    const all = [
      [new InvalidOptionsError({ option: 'x', received: 1, message: 'm' }), 'INVALID_OPTIONS'],
      [new BreakerOpenError('b', 'OPEN', 1), 'BREAKER_OPEN'],
      [new BreakerIsolatedError('b'), 'BREAKER_ISOLATED'],
      [new InvalidSnapshotError('f', 'm'), 'INVALID_SNAPSHOT'],
      [new TimeoutError(1), 'TIMEOUT'],
      [new BulkheadFullError(1, 0, 'full'), 'BULKHEAD_FULL'],
      [new RateLimitedError(1), 'RATE_LIMITED'],
      [new RetryBudgetExhaustedError(1, new Error('x')), 'RETRY_BUDGET_EXHAUSTED'],
      [new AbortedError('r'), 'ABORTED'],
      [new PolicyClosedError('bulkhead'), 'POLICY_CLOSED'],
    ] as const;
    for (const [error, code] of all) {
      expect(error.code).toBe(code);
      expect(isBreakerError(error, code)).toBe(true);
      expect(error).toBeInstanceOf(BreakerError);
      expect(error.name).toBe(error.constructor.name);
    }
    expect(new TimeoutError(1) instanceof BreakerOpenError).toBe(false);
    expect(isBreakerError(new Error('x'))).toBe(false);
    expect(isBreakerError({ code: 'TIMEOUT' }, 'TIMEOUT')).toBe(false);
  });

  it('INVALID_OPTIONS carries the option and the value received', () => {
    let error: unknown;
    try {
      retry({ maxAttempts: 0 });
    } catch (e) {
      error = e;
    }
    if (!isBreakerError(error, 'INVALID_OPTIONS')) return expect.unreachable();
    expectTypeOf(error).toEqualTypeOf<InvalidOptionsError>();
    expect(error.option).toBe('maxAttempts');
    expect(error.received).toBe(0);
    expect(error.message).toBe(
      'retry(): option "maxAttempts" must be an integer >= 1 <= 100 (got 0). See the Options table of the @ballast/breaker README.',
    );
  });
});
