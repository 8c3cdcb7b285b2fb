import { describe, expect, expectTypeOf, it } from 'vitest';
import {
  BallastError,
  type Infer,
  nestIssue,
  type OptionIssue,
  o,
  parseOptions,
} from '../src/index.ts';

class InvalidOptionsError extends BallastError<'INVALID_OPTIONS'> {
  readonly option: string;
  readonly received: unknown;
  constructor(issue: OptionIssue) {
    super('INVALID_OPTIONS', issue.message);
    this.option = issue.option;
    this.received = issue.received;
  }
}
const context = {
  factory: 'retry()',
  error: InvalidOptionsError,
  docs: 'the @ballast/demo README',
};

const schema = o.object({
  maxAttempts: o.integer({ min: 1 }).default(3),
  backoff: o.oneOf(['constant', 'exponential'] as const).default('exponential'),
  delayMs: o.number({ min: 0 }).optional(),
  name: o.string({ minLength: 1 }).optional(),
  onRetry: o.fn<(attempt: number) => void>().optional(),
  budget: o.union(o.literal(false), o.object({ ratio: o.number({ min: 0, max: 1 }) })).optional(),
  signal: o.signal().optional(),
  tags: o.array(o.string()).default([]),
});

function invalid(input: unknown): InvalidOptionsError {
  try {
    parseOptions(schema, input, context);
  } catch (error) {
    if (error instanceof InvalidOptionsError) return error;
    throw error;
  }
  throw new Error('expected INVALID_OPTIONS');
}

describe('parseOptions', () => {
  it('applies defaults, keeps given values and drops undefined ones', () => {
    const parsed = parseOptions(schema, { delayMs: 5, name: undefined }, context);
    expect(parsed).toEqual({ maxAttempts: 3, backoff: 'exponential', delayMs: 5, tags: [] });
    expect(parseOptions(schema, undefined, context).maxAttempts).toBe(3);
  });

  it('infers the output type', () => {
    type Out = Infer<typeof schema>;
    expectTypeOf<Out['maxAttempts']>().toEqualTypeOf<number>();
    expectTypeOf<Out['backoff']>().toEqualTypeOf<'constant' | 'exponential'>();
    expectTypeOf<Out>().toHaveProperty('delayMs');
    expectTypeOf<Out['budget']>().toEqualTypeOf<false | { ratio: number } | undefined>();
  });

  it('names the option, the rule and the value received in one format', () => {
    const error = invalid({ maxAttempts: 0 });
    expect(error.code).toBe('INVALID_OPTIONS');
    expect(error.option).toBe('maxAttempts');
    expect(error.received).toBe(0);
    expect(error.message).toBe(
      'retry(): option "maxAttempts" must be an integer >= 1 (got 0). See the @ballast/demo README.',
    );
  });

  it('lists the allowed values of an enum', () => {
    expect(invalid({ backoff: 'linear' }).message).toContain(
      'option "backoff" must be one of "constant", "exponential" (got "linear")',
    );
  });

  it('names an unknown key with the closest known option', () => {
    const error = invalid({ maxAtempts: 2 });
    expect(error.option).toBe('maxAtempts');
    expect(error.message).toContain('did you mean "maxAttempts"?');
    expect(invalid({ zzz: 1 }).message).toContain('is not a known option (known: maxAttempts');
  });

  it('reports the deepest branch of a union, with its path', () => {
    const error = invalid({ budget: { ratio: 2 } });
    expect(error.option).toBe('budget.ratio');
    expect(error.message).toContain('must be a number >= 0 <= 1 (got 2)');
    expect(invalid({ budget: 'x' }).message).toContain('must be false or an object');
  });

  it('rejects wrong types, NaN, non-objects, bad array items and signals', () => {
    expect(invalid({ delayMs: Number.NaN }).option).toBe('delayMs');
    expect(invalid({ delayMs: '5' }).message).toContain('(got "5")');
    expect(invalid({ onRetry: 1 }).message).toContain('must be a function');
    expect(invalid({ signal: 'x' }).message).toContain('must be an AbortSignal');
    expect(invalid({ tags: ['a', 2] }).option).toBe('tags.1');
    expect(invalid({ name: '' }).option).toBe('name');
    expect(invalid(42).option).toBe('(options)');
    expect(invalid([]).message).toContain('must be an object (got an array)');
  });

  it('nests an inner factory issue under the outer one', () => {
    const inner = invalid({ maxAttempts: 0 });
    const nested = nestIssue(inner, 'retry', {
      factory: 'interceptor()',
      error: InvalidOptionsError,
    });
    expect(nested.option).toBe('retry.maxAttempts');
    expect(nested.message).toBe(
      'interceptor(): option "retry.maxAttempts" must be an integer >= 1 (got 0). See the @ballast/demo README.',
    );
  });

  it('refine adds a rule with its own message', () => {
    const even = o.object({ n: o.integer().refine((n) => n % 2 === 0, 'must be even') });
    expect(() => parseOptions(even, { n: 3 }, context)).toThrow('option "n" must be even (got 3)');
  });

  it('does not swallow errors that are not option failures', () => {
    const boom = o.custom<number>(() => {
      throw new RangeError('boom');
    }, 'x');
    expect(() => parseOptions(o.object({ a: boom }), { a: 1 }, context)).toThrow(RangeError);
  });
});
