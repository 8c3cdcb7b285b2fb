import { createRequire } from 'node:module';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { BallastError, errorGuard } from '../src/index.ts';

type DemoCode = 'TIMEOUT' | 'INVALID_OPTIONS';

class DemoError<C extends DemoCode = DemoCode> extends BallastError<C> {
  static override readonly brand: symbol = Symbol.for('@ballast/demo.error');
}
class DemoTimeoutError extends DemoError<'TIMEOUT'> {
  static override readonly code = 'TIMEOUT';
  readonly timeoutMs: number;
  constructor(timeoutMs: number) {
    super('TIMEOUT', `took longer than ${timeoutMs} ms`);
    this.timeoutMs = timeoutMs;
  }
}
class DemoOptionsError extends DemoError<'INVALID_OPTIONS'> {
  static override readonly code = 'INVALID_OPTIONS';
  constructor() {
    super('INVALID_OPTIONS', 'bad');
  }
}
const isDemoError = errorGuard<{ TIMEOUT: DemoTimeoutError; INVALID_OPTIONS: DemoOptionsError }>(
  DemoError,
);

describe('BallastError', () => {
  it('carries code, name, message and cause', () => {
    const cause = new Error('root');
    const error = new (class extends DemoError<'TIMEOUT'> {})('TIMEOUT', 'msg', { cause });
    expect(error.code).toBe('TIMEOUT');
    expect(error.message).toBe('msg');
    expect(error.cause).toBe(cause);
    expect(new DemoTimeoutError(5).name).toBe('DemoTimeoutError');
  });

  it('instanceof is decided by brand and code', () => {
    const timeout = new DemoTimeoutError(5);
    expect(timeout).toBeInstanceOf(DemoError);
    expect(timeout).toBeInstanceOf(DemoTimeoutError);
    expect(timeout).toBeInstanceOf(BallastError);
    expect(timeout instanceof DemoOptionsError).toBe(false);
    expect(new Error('x') instanceof DemoError).toBe(false);
    expect((null as unknown) instanceof DemoError).toBe(false);
  });

  it('a look-alike from another copy (same brand and code, other prototype) is an instance', () => {
    const brand = Symbol.for('@ballast/demo.error');
    const foreign = Object.assign(new Error('from another copy'), { code: 'TIMEOUT' });
    Object.defineProperty(foreign, brand, { value: true });
    Object.defineProperty(foreign, Symbol.for('@ballast/kernel.error'), { value: true });
    expect(foreign instanceof DemoTimeoutError).toBe(true);
    expect(foreign instanceof BallastError).toBe(true);
    expect(isDemoError(foreign, 'TIMEOUT')).toBe(true);
  });

  it('works across the ESM and CJS builds (two copies of the kernel in one process)', async () => {
    const esm = await import('../dist/index.js');
    const cjs = createRequire(import.meta.url)('../dist/index.cjs') as typeof esm;
    expect(esm.BallastError).not.toBe(cjs.BallastError);
    class A extends esm.BallastError<'X'> {
      static override readonly brand: symbol = Symbol.for('@ballast/two.error');
    }
    class B extends cjs.BallastError<'X'> {
      static override readonly brand: symbol = Symbol.for('@ballast/two.error');
    }
    class BX extends B {
      static override readonly code = 'X';
    }
    const fromA = new A('X', 'made by copy A');
    expect(fromA instanceof B).toBe(true);
    expect(fromA instanceof BX).toBe(true);
    expect(fromA instanceof cjs.BallastError).toBe(true);
  });

  it('the guard narrows to the subclass of the code', () => {
    const error: unknown = new DemoTimeoutError(7);
    if (isDemoError(error, 'TIMEOUT')) {
      expectTypeOf(error).toEqualTypeOf<DemoTimeoutError>();
      expect(error.timeoutMs).toBe(7);
    } else {
      expect.unreachable();
    }
    const anyCode = (value: unknown): void => {
      if (isDemoError(value))
        expectTypeOf(value).toEqualTypeOf<DemoTimeoutError | DemoOptionsError>();
    };
    anyCode(new DemoOptionsError());
    expect(isDemoError(error, 'INVALID_OPTIONS')).toBe(false);
    expect(isDemoError('TIMEOUT')).toBe(false);
  });
});
