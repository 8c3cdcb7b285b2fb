import { otelTestSdk } from '@ballast/test-utils/otel';
import { afterAll, describe, expect, it } from 'vitest';
import { createHealth } from '../src/lifecycle/index.ts';

const sdk = otelTestSdk();
afterAll(() => sdk.shutdown());

/** The tracer an instrumented client (ioredis, undici) would use, through the kernel's API copy. */
async function tracer() {
  const { otel } = await import('@ballast/kernel');
  return otel()?.trace.getTracer('instrumented-client');
}

describe('health checks and tracing', () => {
  it('runs every check with tracing suppressed: what a check does creates no span', async () => {
    const t = await tracer();
    expect(t).toBeDefined();
    const outside = t?.startSpan('outside a check');
    expect(outside?.isRecording()).toBe(true);
    outside?.end();

    let recording: boolean | undefined;
    const health = createHealth({
      maxEventLoopDelayMs: false,
      indicators: [
        {
          name: 'redis',
          critical: true,
          check: async () => {
            await Promise.resolve();
            const span = t?.startSpan('PING');
            recording = span?.isRecording();
            span?.end();
            return { status: 'UP' };
          },
        },
      ],
    });
    expect((await health.ready()).status).toBe('UP');
    expect(recording).toBe(false);
    expect(sdk.finishedSpans().map((span) => span.name)).toEqual(['outside a check']);
  });
});
