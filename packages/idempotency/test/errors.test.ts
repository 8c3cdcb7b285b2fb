import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import * as source from '../src/index.ts';

describe('errors', () => {
  it('one subclass per code, with a guard that narrows and instanceof', () => {
    const error: unknown = new source.StoreUnavailableError('Redis is down.', {
      cause: new Error('ECONNREFUSED'),
    });
    expect(error).toBeInstanceOf(source.IdempotencyError);
    expect(error).toBeInstanceOf(source.StoreUnavailableError);
    expect(error instanceof source.StoreFullError).toBe(false);
    expect(source.isIdempotencyError(error, 'STORE_UNAVAILABLE')).toBe(true);
    expect(source.isIdempotencyError(error, 'STORE_FULL')).toBe(false);
    expect((error as Error).name).toBe('StoreUnavailableError');
  });

  it('instanceof and the guard work across two installed copies (the ESM and CJS builds)', async () => {
    const esm = (await import('../dist/index.js')) as typeof source;
    const cjs = createRequire(import.meta.url)('../dist/index.cjs') as typeof source;
    expect(esm.IdempotencyError).not.toBe(cjs.IdempotencyError);
    const fromCjs = new cjs.ScopeMissingError('no subject');
    expect(fromCjs instanceof esm.ScopeMissingError).toBe(true);
    expect(fromCjs instanceof esm.IdempotencyError).toBe(true);
    expect(fromCjs instanceof esm.StoreFullError).toBe(false);
    expect(esm.isIdempotencyError(fromCjs, 'SCOPE_MISSING')).toBe(true);
    expect(
      source.isIdempotencyError(
        new esm.InvalidOptionsError({ option: 'x', received: 1, message: 'm' }),
        'INVALID_OPTIONS',
      ),
    ).toBe(true);
  });
});
