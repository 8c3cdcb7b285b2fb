import { describe, expect, it } from 'vitest';
import { otel } from '../src/index.ts';

describe('otel()', () => {
  it('does not load the API before anything registered an SDK, then loads it', async () => {
    const key = Symbol.for('opentelemetry.js.api.1');
    const registered = (globalThis as Record<symbol, unknown>)[key];
    if (registered === undefined) expect(otel()).toBeUndefined();
    const api = await import('@opentelemetry/api');
    api.diag.setLogger(new api.DiagConsoleLogger(), api.DiagLogLevel.NONE);
    const loaded = otel();
    expect(loaded).toBeDefined();
    expect(typeof loaded!.trace.getTracer).toBe('function');
    expect(otel()).toBe(loaded);
  });
});
