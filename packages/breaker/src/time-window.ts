import {
  FAILED,
  SLOW,
  type SlidingWindow,
  type TimeWindowSnapshot,
  type WindowSnapshot,
} from './sliding-window.ts';

/**
 * The calls of the last `windowMs`, in `buckets` buckets of `windowMs / buckets` each, with
 * running totals. Buckets are rotated lazily when the window is used (no timer): moving to a
 * new bucket subtracts the buckets that aged out, at most `buckets` of them however far time
 * jumped. Counts live in one typed array allocated on the first recorded call.
 */
export class TimeWindow implements SlidingWindow {
  calls = 0;
  failures = 0;
  slow = 0;
  readonly #bucketMs: number;
  readonly #buckets: number;
  /** `[calls, failures, slow]` per bucket, bucket `k` at `3 * (index % buckets)`. */
  #counts: Float64Array | undefined = undefined;
  /** Index (time / bucketMs, floored) of the newest bucket; -Infinity before the first call. */
  #head = Number.NEGATIVE_INFINITY;

  constructor(windowMs: number, buckets: number) {
    this.#bucketMs = windowMs / buckets;
    this.#buckets = buckets;
  }

  record(outcome: number, now: number): void {
    this.rotate(now);
    let counts = this.#counts;
    if (counts === undefined) {
      counts = new Float64Array(3 * this.#buckets);
      this.#counts = counts;
    }
    const at = 3 * (this.#head % this.#buckets);
    counts[at]!++;
    this.calls++;
    if (outcome !== 0) {
      const failed = outcome & FAILED;
      const slow = (outcome & SLOW) >> 1;
      counts[at + 1]! += failed;
      counts[at + 2]! += slow;
      this.failures += failed;
      this.slow += slow;
    }
  }

  rotate(now: number): void {
    const index = Math.floor(now / this.#bucketMs);
    const head = this.#head;
    if (index <= head) return; // same bucket, or the clock went back: keep the newest bucket
    this.#head = index;
    const counts = this.#counts;
    if (counts === undefined || this.calls === 0) return;
    const buckets = this.#buckets;
    if (index - head >= buckets) {
      counts.fill(0);
      this.calls = 0;
      this.failures = 0;
      this.slow = 0;
      return;
    }
    for (let k = head + 1; k <= index; k++) {
      const at = 3 * (k % buckets);
      this.calls -= counts[at]!;
      this.failures -= counts[at + 1]!;
      this.slow -= counts[at + 2]!;
      counts[at] = 0;
      counts[at + 1] = 0;
      counts[at + 2] = 0;
    }
  }

  reset(): void {
    this.#counts?.fill(0);
    this.#head = Number.NEGATIVE_INFINITY;
    this.calls = 0;
    this.failures = 0;
    this.slow = 0;
  }

  toJSON(): TimeWindowSnapshot {
    const buckets: [number, number, number][] = [];
    const counts = this.#counts;
    const head = this.#head;
    if (counts !== undefined && this.calls > 0) {
      for (let k = head - this.#buckets + 1; k <= head; k++) {
        const at = 3 * (((k % this.#buckets) + this.#buckets) % this.#buckets);
        buckets.push([counts[at]!, counts[at + 1]!, counts[at + 2]!]);
      }
    }
    return { type: 'time', bucketMs: this.#bucketMs, head: buckets.length > 0 ? head : 0, buckets };
  }

  restore(snapshot: WindowSnapshot): boolean {
    this.reset();
    if (
      snapshot.type !== 'time' ||
      snapshot.bucketMs !== this.#bucketMs ||
      snapshot.buckets.length > this.#buckets
    ) {
      return false;
    }
    const n = snapshot.buckets.length;
    if (n === 0) return true;
    const counts = new Float64Array(3 * this.#buckets);
    this.#counts = counts;
    this.#head = snapshot.head;
    for (let j = 0; j < n; j++) {
      const k = snapshot.head - n + 1 + j;
      const at = 3 * (((k % this.#buckets) + this.#buckets) % this.#buckets);
      const [calls, failures, slow] = snapshot.buckets[j]!;
      counts[at] = calls;
      counts[at + 1] = failures;
      counts[at + 2] = slow;
      this.calls += calls;
      this.failures += failures;
      this.slow += slow;
    }
    return true;
  }
}
