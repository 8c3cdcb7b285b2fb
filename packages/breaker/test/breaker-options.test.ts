import { describe, expect, it } from 'vitest';
import {
  type BreakerOptions,
  circuitBreaker,
  createBreakerRegistry,
  type InvalidOptionsError,
  isBreakerError,
} from '../src/index.ts';

function invalid(build: () => unknown): InvalidOptionsError {
  try {
    build();
  } catch (error) {
    expect(isBreakerError(error, 'INVALID_OPTIONS')).toBe(true);
    return error as InvalidOptionsError;
  }
  throw new Error('expected INVALID_OPTIONS');
}

describe('circuitBreaker() options', () => {
  const cases: [string, unknown, string, RegExp][] = [
    ['unknown option', { windowSzie: 10 }, 'windowSzie', /did you mean "windowSize"/],
    [
      'windowType',
      { windowType: 'sliding' },
      'windowType',
      /one of "count", "time", "consecutive"/,
    ],
    ['windowSize 0', { windowSize: 0 }, 'windowSize', />= 1/],
    ['windowSize fraction', { windowSize: 2.5 }, 'windowSize', /integer/],
    ['windowSize huge', { windowSize: 1e9 }, 'windowSize', /<= 10000000/],
    ['windowMs on a count window', { windowMs: 1000 }, 'windowMs', /windowType "time" only/],
    [
      'windowSize on a time window',
      { windowType: 'time', windowSize: 5 },
      'windowSize',
      /"count" only/,
    ],
    ['windowMs negative', { windowType: 'time', windowMs: -1 }, 'windowMs', />= 1/],
    [
      'windowBuckets > windowMs',
      { windowType: 'time', windowMs: 5, windowBuckets: 10 },
      'windowBuckets',
      /≤ windowMs/,
    ],
    [
      'windowBuckets huge',
      { windowType: 'time', windowBuckets: 20_000 },
      'windowBuckets',
      /<= 10000/,
    ],
    [
      'consecutiveFailures on a count window',
      { consecutiveFailures: 3 },
      'consecutiveFailures',
      /"consecutive" only/,
    ],
    [
      'consecutiveFailures 0',
      { windowType: 'consecutive', consecutiveFailures: 0 },
      'consecutiveFailures',
      />= 1/,
    ],
    [
      'minimumCalls on consecutive',
      { windowType: 'consecutive', minimumCalls: 3 },
      'minimumCalls',
      /does not apply/,
    ],
    [
      'minimumCalls > windowSize',
      { windowSize: 5, minimumCalls: 6 },
      'minimumCalls',
      /≤ windowSize/,
    ],
    ['minimumCalls 0', { minimumCalls: 0 }, 'minimumCalls', />= 1/],
    [
      'failureRateThreshold as percent',
      { failureRateThreshold: 50 },
      'failureRateThreshold',
      /fraction/,
    ],
    ['failureRateThreshold 0', { failureRateThreshold: 0 }, 'failureRateThreshold', /> 0/],
    [
      'failureRateThreshold string',
      { failureRateThreshold: '0.5' },
      'failureRateThreshold',
      /number/,
    ],
    ['slowCallDurationMs 0', { slowCallDurationMs: 0 }, 'slowCallDurationMs', /> 0/],
    [
      'slowCallDurationMs Infinity',
      { slowCallDurationMs: Number.POSITIVE_INFINITY },
      'slowCallDurationMs',
      /finite/,
    ],
    [
      'slowCallRateThreshold alone',
      { slowCallRateThreshold: 0.5 },
      'slowCallRateThreshold',
      /needs slowCallDurationMs/,
    ],
    [
      'slowCallRateThreshold > 1',
      { slowCallDurationMs: 10, slowCallRateThreshold: 2 },
      'slowCallRateThreshold',
      /≤ 1/,
    ],
    ['openMs negative', { openMs: -5 }, 'openMs', />= 0 or a function/],
    ['openMs string', { openMs: '10s' }, 'openMs', /a number >= 0 or a function/],
    ['halfOpenCalls 0', { halfOpenCalls: 0 }, 'halfOpenCalls', />= 1/],
    ['maxWaitInHalfOpenMs 0', { maxWaitInHalfOpenMs: 0 }, 'maxWaitInHalfOpenMs', /> 0/],
    ['recordError not a function', { recordError: true }, 'recordError', /function/],
    ['ignoreError not a function', { ignoreError: 'ECONNRESET' }, 'ignoreError', /function/],
    ['isFailureResult not a function', { isFailureResult: 503 }, 'isFailureResult', /function/],
    ['recordAborts not a boolean', { recordAborts: 'yes' }, 'recordAborts', /boolean/],
    ['clock without now', { clock: {} }, 'clock', /now\(\)/],
    ['empty name', { name: '' }, 'name', /1 to 256 characters/],
  ];

  it.each(cases)('rejects %s, naming the option', (_label, options, option, message) => {
    const error = invalid(() => circuitBreaker(options as BreakerOptions));
    expect(error.option).toBe(option);
    expect(error.message).toMatch(message);
    expect(error.message).toContain('circuitBreaker()');
  });

  it('rejects options that are not an object', () => {
    expect(invalid(() => circuitBreaker(42 as never)).option).toBe('(options)');
  });

  it('accepts every option at once', () => {
    const breaker = circuitBreaker({
      name: 'payments',
      windowType: 'time',
      windowMs: 30_000,
      windowBuckets: 30,
      minimumCalls: 20,
      failureRateThreshold: 0.4,
      slowCallDurationMs: 2_000,
      slowCallRateThreshold: 0.8,
      openMs: (n) => Math.min(60_000, 1_000 * 2 ** n),
      halfOpenCalls: 5,
      maxWaitInHalfOpenMs: 10_000,
      recordError: () => true,
      ignoreError: () => false,
      isFailureResult: () => false,
      clock: { now: () => 0 },
    });
    expect(breaker.name).toBe('payments');
    expect(breaker.state).toBe('CLOSED');
  });

  it('defaults minimumCalls to the window size when the window is smaller than 10', async () => {
    const breaker = circuitBreaker({ windowSize: 3 });
    for (let i = 0; i < 3; i++)
      await breaker.execute(() => Promise.reject(new Error('x'))).catch(() => {});
    expect(breaker.state).toBe('OPEN');
  });
});

describe('createBreakerRegistry() options', () => {
  it.each([
    ['maxBreakers 0', { maxBreakers: 0 }, 'maxBreakers', />= 1/],
    ['maxBreakers fraction', { maxBreakers: 1.5 }, 'maxBreakers', /integer/],
    ['idleMs negative', { idleMs: -1 }, 'idleMs', /> 0/],
    ['unknown option', { maxSize: 10 }, 'maxSize', /not a known option/],
    ['breaker not an object', { breaker: 5 }, 'breaker', /object/],
    ['breaker.name', { breaker: { name: 'x' } }, 'breaker.name', /named by its key/],
    ['a bad breaker option', { breaker: { windowSize: -1 } }, 'breaker.windowSize', />= 1/],
  ])('rejects %s, naming the option', (_label, options, option, message) => {
    const error = invalid(() => createBreakerRegistry(options as never));
    expect(error.option).toBe(option);
    expect(error.message).toMatch(message);
    expect(error.message).toContain('createBreakerRegistry()');
  });
});
