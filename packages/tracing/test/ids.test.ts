import { describe, expect, it, vi } from 'vitest';
import { PooledIdGenerator } from '../src/ids.ts';

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
