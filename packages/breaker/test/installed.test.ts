import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type InstalledCopy, installedCopy } from './support/installed.ts';

// The built package, alone in a project (no @opentelemetry/api, no monorepo around it).
let copy: InstalledCopy;
beforeAll(() => {
  copy = installedCopy();
});
afterAll(() => copy.remove());

describe('as installed', () => {
  it('loads and records telemetry as a no-op without @opentelemetry/api, in ESM and CJS', () => {
    // A registered-looking global makes the kernel try to load the API: it is not there.
    const body = `
      globalThis[Symbol.for('opentelemetry.js.api.1')] = { version: '1.9.0' };
      const breaker = b.circuitBreaker({ windowSize: 2, minimumCalls: 2 });
      for (let i = 0; i < 2; i++) await breaker.execute(() => Promise.reject(new Error('x'))).catch(() => {});
      const policy = b.retry({ backoff: 'constant', initialDelayMs: 1 });
      let n = 0;
      await policy.execute(() => { if (++n < 2) throw new Error('once'); });
      console.log(breaker.state, n);`;
    const esm = copy.run('otel.mjs', `import * as b from '@ballast/breaker';\n${body}`);
    expect(esm).toMatchObject({ status: 0, stdout: 'OPEN 2\n' });
    const cjs = copy.run(
      'otel.cjs',
      `const b = require('@ballast/breaker');\n(async () => {${body}})();`,
    );
    expect(cjs).toMatchObject({ status: 0, stdout: 'OPEN 2\n' });
    expect(esm.stderr + cjs.stderr).toBe('');
  });

  it('an awaited retry keeps the process alive through its back-off delays (issue 10 item 3)', () => {
    // Top-level await with nothing else pending: with unref()ed delays Node exits with code 13
    // after the first attempt.
    const result = copy.run(
      'retry.mjs',
      `import { retry } from '@ballast/breaker';
      let attempts = 0;
      const value = await retry({ maxAttempts: 3, backoff: 'constant', initialDelayMs: 50 }).execute(() => {
        attempts++;
        if (attempts < 3) throw new Error('not yet');
        return 'done';
      });
      console.log(value, attempts);`,
    );
    expect(result).toMatchObject({ status: 0, stdout: 'done 3\n' });
  });

  it('instanceof and isBreakerError agree across the ESM and the CJS copy', () => {
    const result = copy.run(
      'copies.mjs',
      `import { createRequire } from 'node:module';
      import * as esm from '@ballast/breaker';
      const cjs = createRequire(import.meta.url)('@ballast/breaker');
      const fromCjs = new cjs.TimeoutError(5);
      const fromEsm = new esm.BreakerOpenError('b', 'OPEN', 10);
      console.log(JSON.stringify([
        esm.TimeoutError !== cjs.TimeoutError,
        fromCjs instanceof esm.TimeoutError,
        fromCjs instanceof esm.BreakerError,
        fromCjs instanceof esm.BreakerOpenError,
        fromEsm instanceof cjs.BreakerOpenError,
        esm.isBreakerError(fromCjs, 'TIMEOUT'),
        cjs.isBreakerError(fromEsm, 'TIMEOUT'),
      ]));`,
    );
    expect(result.stderr).toBe('');
    expect(JSON.parse(result.stdout)).toEqual([true, true, true, false, true, true, false]);
  });
});
