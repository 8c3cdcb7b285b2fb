import { describe, expect, it } from 'vitest';
import { CountWindow } from '../src/count-window.ts';
import { FAILED, SLOW } from '../src/sliding-window.ts';
import { TimeWindow } from '../src/time-window.ts';

describe('CountWindow', () => {
  it('keeps running totals of the last size outcomes', () => {
    const window = new CountWindow(3);
    window.record(FAILED, 0);
    window.record(SLOW, 0);
    window.record(FAILED | SLOW, 0);
    expect([window.calls, window.failures, window.slow]).toEqual([3, 2, 2]);
    window.record(0, 0); // evicts FAILED
    expect([window.calls, window.failures, window.slow]).toEqual([3, 1, 2]);
    window.record(0, 0); // evicts SLOW
    window.record(0, 0); // evicts FAILED|SLOW
    expect([window.calls, window.failures, window.slow]).toEqual([3, 0, 0]);
  });

  it('packs outcomes across array elements for odd sizes', () => {
    const size = 47; // not a multiple of the 15 outcomes per element
    const window = new CountWindow(size);
    const expected: number[] = [];
    for (let i = 0; i < 200; i++) {
      const outcome = i % 7 === 0 ? FAILED : i % 5 === 0 ? SLOW : 0;
      window.record(outcome, 0);
      expected.push(outcome);
    }
    const last = expected.slice(-size);
    expect(window.toJSON().outcomes).toEqual(last);
    expect(window.failures).toBe(last.filter((o) => o & FAILED).length);
    expect(window.slow).toBe(last.filter((o) => o & SLOW).length);
  });

  it('starts from successes counted before it existed', () => {
    const window = new CountWindow(4, 10);
    expect(window.calls).toBe(4);
    window.record(FAILED, 0);
    expect([window.calls, window.failures]).toEqual([4, 1]);
    expect(window.toJSON().outcomes).toEqual([0, 0, 0, 1]);
  });

  it('restores only a snapshot of its own size', () => {
    const window = new CountWindow(4);
    expect(window.restore({ type: 'count', size: 4, outcomes: [1, 0, 2] })).toBe(true);
    expect([window.calls, window.failures, window.slow]).toEqual([3, 1, 1]);
    expect(window.restore({ type: 'count', size: 5, outcomes: [1] })).toBe(false);
    expect(window.calls).toBe(0);
  });
});

describe('TimeWindow', () => {
  it('rotates buckets lazily and subtracts what aged out', () => {
    const window = new TimeWindow(1_000, 4); // 250 ms buckets
    window.record(FAILED, 0);
    window.record(0, 260);
    window.record(SLOW, 510);
    expect([window.calls, window.failures, window.slow]).toEqual([3, 1, 1]);
    window.rotate(1_000); // bucket [0, 250) aged out
    expect([window.calls, window.failures, window.slow]).toEqual([2, 0, 1]);
    window.rotate(1_499); // [250, 500) aged out too
    expect([window.calls, window.failures, window.slow]).toEqual([1, 0, 1]);
  });

  it('clears everything at once when time jumps past the whole window', () => {
    const window = new TimeWindow(1_000, 10);
    for (let t = 0; t < 1_000; t += 50) window.record(FAILED, t);
    expect(window.calls).toBe(20);
    window.rotate(1e12);
    expect([window.calls, window.failures, window.slow]).toEqual([0, 0, 0]);
    window.record(0, 1e12);
    expect(window.calls).toBe(1);
  });

  it('round-trips through toJSON/restore and refuses another bucket size', () => {
    const window = new TimeWindow(1_000, 4);
    window.record(FAILED, 100);
    window.record(0, 600);
    const copy = new TimeWindow(1_000, 4);
    expect(copy.restore(window.toJSON())).toBe(true);
    expect([copy.calls, copy.failures]).toEqual([2, 1]);
    copy.rotate(1_100); // the 100 ms bucket ages out
    expect([copy.calls, copy.failures]).toEqual([1, 0]);
    expect(new TimeWindow(2_000, 4).restore(window.toJSON())).toBe(false);
  });
});
