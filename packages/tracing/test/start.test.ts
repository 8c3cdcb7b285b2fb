import type { ExportResult } from '@opentelemetry/core';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace';
import { afterAll, describe, expect, it } from 'vitest';
import { activeTracing, startTracing, withSpan } from '../src/index.ts';

// One tracing per process: this file starts it with an exporter of its own.
const exported: string[] = [];
let fail = true;
const exporter: SpanExporter = {
  export(spans: ReadableSpan[], done: (result: ExportResult) => void) {
    if (fail) {
      fail = false;
      done({ code: 1, error: new Error('collector unavailable') });
      return;
    }
    exported.push(...spans.map((span) => span.name));
    done({ code: 0 });
  },
  shutdown: async () => undefined,
};
const tracing = startTracing({ serviceName: 'start-test', exporter, handleSignals: false });
afterAll(() => tracing.shutdown());

describe('startTracing', () => {
  it('runs with a custom exporter; export failures are counted in status(), never thrown', async () => {
    expect(tracing.status()).toMatchObject({
      state: 'running',
      serviceName: 'start-test',
      error: undefined,
    });
    withSpan('lost', () => undefined);
    await tracing.flush();
    withSpan('delivered', () => undefined);
    await tracing.flush();
    expect(exported).toEqual(['delivered']);
    expect(tracing.status()).toMatchObject({
      spansExported: 1,
      exportFailures: 1,
      lastExportError: 'collector unavailable',
    });
  });

  it('a second call returns the running handle (with a warning when it had options)', async () => {
    const warnings: string[] = [];
    const onWarning = (warning: Error) => warnings.push(warning.message);
    process.on('warning', onWarning);
    try {
      expect(startTracing()).toBe(tracing);
      expect(startTracing({ serviceName: 'other' })).toBe(tracing);
      expect(activeTracing()).toBe(tracing);
      await new Promise((resolve) => setImmediate(resolve));
      expect(warnings).toEqual([
        expect.stringMatching(/already running, so these options are ignored/),
      ]);
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('shutdown() is idempotent; afterwards spans are no-ops and a new start is possible', async () => {
    await Promise.all([tracing.shutdown(), tracing.close()]);
    expect(tracing.status().state).toBe('shut-down');
    expect(activeTracing()).toBeUndefined();
    const recording = withSpan('after', (span) => span.isRecording());
    expect(recording).toBe(false);
    const again = startTracing({ exporter: 'none', handleSignals: false });
    expect(again.status().state).toBe('running');
    await again.shutdown();
  });
});
