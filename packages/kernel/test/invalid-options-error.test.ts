import { createRequire } from 'node:module';
import { describe, expect, expectTypeOf, it } from 'vitest';
import {
  BallastError,
  errorGuard,
  invalidOptionsError,
  o,
  optionIssue,
  parseOptions,
} from '../src/index.ts';

type ShopCode = 'INVALID_OPTIONS' | 'OUT_OF_STOCK';

abstract class ShopError<C extends ShopCode = ShopCode> extends BallastError<C> {
  static override readonly brand: symbol = Symbol.for('@ballast/shop-test.error');
}
class InvalidOptionsError extends invalidOptionsError(ShopError) {}
class OutOfStockError extends ShopError<'OUT_OF_STOCK'> {
  static override readonly code = 'OUT_OF_STOCK';
  constructor() {
    super('OUT_OF_STOCK', 'none left');
  }
}
const isShopError = errorGuard<{
  INVALID_OPTIONS: InvalidOptionsError;
  OUT_OF_STOCK: OutOfStockError;
}>(ShopError);

const context = { factory: 'shop()', error: InvalidOptionsError, docs: 'the shop README' };

describe('invalidOptionsError(Base)', () => {
  it('makes the package class: code, option, received, message, name, cause', () => {
    const cause = new Error('root');
    const error = new InvalidOptionsError(optionIssue(context, 'limit', -1, 'must be >= 0'), {
      cause,
    });
    expect(error.code).toBe('INVALID_OPTIONS');
    expect(error.option).toBe('limit');
    expect(error.received).toBe(-1);
    expect(error.message).toBe(
      'shop(): option "limit" must be >= 0 (got -1). See the shop README.',
    );
    expect(error.name).toBe('InvalidOptionsError');
    expect(error.cause).toBe(cause);
    expect(InvalidOptionsError.code).toBe('INVALID_OPTIONS');
    expect(InvalidOptionsError.brand).toBe(ShopError.brand);
    expect(error.stack).toContain('InvalidOptionsError');
  });

  it('is what parseOptions throws', () => {
    const schema = o.object({ limit: o.number({ min: 0 }) });
    expect(() => parseOptions(schema, { limit: -1 }, context)).toThrow(InvalidOptionsError);
  });

  it('instanceof checks brand and code, also through the subclass', () => {
    const error = new InvalidOptionsError(optionIssue(context, 'x', 1, 'is wrong'));
    expect(error).toBeInstanceOf(InvalidOptionsError);
    expect(error).toBeInstanceOf(ShopError);
    expect(error).toBeInstanceOf(BallastError);
    expect(error).toBeInstanceOf(Error);
    expect(new OutOfStockError() instanceof InvalidOptionsError).toBe(false);
    const other = invalidOptionsError(
      class extends BallastError<'INVALID_OPTIONS'> {
        static override readonly brand: symbol = Symbol.for('@ballast/other-test.error');
      },
    );
    expect(error instanceof other).toBe(false);
  });

  it('the guard narrows to the class, with .option and .received typed', () => {
    const error: unknown = new InvalidOptionsError(optionIssue(context, 'x', 1, 'is wrong'));
    if (isShopError(error, 'INVALID_OPTIONS')) {
      expectTypeOf(error).toEqualTypeOf<InvalidOptionsError>();
      expectTypeOf(error.option).toEqualTypeOf<string>();
      expectTypeOf(error.received).toEqualTypeOf<unknown>();
      expectTypeOf(error.code).toEqualTypeOf<'INVALID_OPTIONS'>();
      expect(error.option).toBe('x');
    } else {
      expect.unreachable();
    }
    expect(isShopError(new OutOfStockError(), 'INVALID_OPTIONS')).toBe(false);
  });

  it('works across the ESM and CJS builds (two copies of the kernel in one process)', async () => {
    const esm = await import('../dist/index.js');
    const cjs = createRequire(import.meta.url)('../dist/index.cjs') as typeof esm;
    const brand = Symbol.for('@ballast/two-copies-test.error');
    class A extends esm.BallastError<'INVALID_OPTIONS'> {
      static override readonly brand: symbol = brand;
    }
    class B extends cjs.BallastError<'INVALID_OPTIONS'> {
      static override readonly brand: symbol = brand;
    }
    class InvalidA extends esm.invalidOptionsError(A) {}
    class InvalidB extends cjs.invalidOptionsError(B) {}
    const fromA = new InvalidA({ option: 'x', received: 1, message: 'bad x' });
    expect(fromA instanceof InvalidB).toBe(true);
    expect(fromA instanceof B).toBe(true);
    expect(new B('INVALID_OPTIONS', 'plain base') instanceof InvalidB).toBe(true);
    expect(Object.assign(new B('INVALID_OPTIONS', 'x'), {}) instanceof InvalidA).toBe(true);
  });
});
