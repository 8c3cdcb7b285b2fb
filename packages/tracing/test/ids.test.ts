import { randomBytes } from 'node:crypto';
import { ROOT_CONTEXT, SpanKind } from '@opentelemetry/api';
import { type Sampler, TraceIdRatioBasedSampler } from '@opentelemetry/sdk-trace';
import { describe, expect, it, vi } from 'vitest';
import { PooledIdGenerator, PooledRatioSampler } from '../src/ids.ts';

describe('PooledIdGenerator', () => {
  it('draws lower-case hex ids of W3C length, all different, across pool refills', () => {
    const ids = new PooledIdGenerator();
    const seen = new Set<string>();
    // 4 KiB of random bytes per pool: 3,000 of each is several refills.
    for (let i = 0; i < 3_000; i++) {
      const traceId = ids.generateTraceId();
      const spanId = ids.generateSpanId();
      expect(traceId).toMatch(/^[0-9a-f]{32}$/);
      expect(spanId).toMatch(/^[0-9a-f]{16}$/);
      seen.add(traceId);
      seen.add(spanId);
    }
    expect(seen.size).toBe(6_000);
  });

  it('never returns an all-zero id (invalid in W3C trace context): it draws again', async () => {
    const crypto = await import('node:crypto');
    vi.resetModules();
    let call = 0;
    vi.doMock('node:crypto', () => ({
      ...crypto,
      // First pool: all zeros; then real random bytes.
      randomFillSync: (buffer: Buffer) => {
        call += 1;
        return call === 1 ? buffer.fill(0) : crypto.randomFillSync(buffer);
      },
    }));
    try {
      const { PooledIdGenerator: Fresh } = await import('../src/ids.ts');
      const ids = new Fresh();
      expect(ids.generateTraceId()).not.toBe('0'.repeat(32));
      expect(ids.generateSpanId()).not.toBe('0'.repeat(16));
      expect(call).toBe(2);
    } finally {
      vi.doUnmock('node:crypto');
      vi.resetModules();
    }
  });

  it('hands a reserved trace id to the next generateTraceId() only', () => {
    const ids = new PooledIdGenerator();
    const reserved = 'a'.repeat(32);
    ids.reserveTraceId(reserved);
    expect(ids.generateSpanId()).not.toContain('aaaa');
    expect(ids.generateTraceId()).toBe(reserved);
    expect(ids.generateTraceId()).not.toBe(reserved);
    ids.reserveTraceId(reserved);
    ids.reserveTraceId(undefined);
    expect(ids.generateTraceId()).not.toBe(reserved);
  });
});

describe('PooledRatioSampler', () => {
  it("decides exactly as the SDK's TraceIdRatioBasedSampler, for drawn ids and any other", () => {
    for (const ratio of [0.001, 0.1, 0.5, 0.999]) {
      const sdk = new TraceIdRatioBasedSampler(ratio);
      const ids = new PooledIdGenerator();
      const sampler = new PooledRatioSampler(ids, new TraceIdRatioBasedSampler(ratio), ratio);
      const ask = (s: Sampler, id: string) =>
        s.shouldSample(ROOT_CONTEXT, id, 'GET', SpanKind.SERVER, {}, []).decision;
      let kept = 0;
      for (let i = 0; i < 5_000; i++) {
        const drawn = ids.generateTraceId(); // the shortcut: the words read from its bytes
        const decision = ask(sampler, drawn);
        expect(decision).toBe(ask(sdk, drawn));
        if (decision === 2) kept += 1;
        const other = randomBytes(16).toString('hex'); // not the last drawn: the SDK's sampler
        expect(ask(sampler, other)).toBe(ask(sdk, other));
      }
      expect(kept / 5_000).toBeCloseTo(ratio, 1);
      expect(ask(sampler, 'not-hex')).toBe(ask(sdk, 'not-hex'));
      expect(sampler.toString()).toBe(sdk.toString());
    }
  });
});
