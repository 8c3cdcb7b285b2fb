/** Outcome bits of one recorded call. */
export const FAILED = 1;
/** Outcome bit: the call was slower than `slowCallDurationMs`. */
export const SLOW = 2;

/**
 * Running totals over the recent calls of a breaker. Every method is O(1) in the number of calls
 * the window holds (a time window walks at most its fixed number of buckets when time jumps).
 */
export interface SlidingWindow {
  /** Calls in the window. */
  readonly calls: number;
  /** Failed calls in the window. */
  readonly failures: number;
  /** Slow calls in the window. */
  readonly slow: number;
  /** Records one call: `outcome` is a combination of {@link FAILED} and {@link SLOW}. */
  record(outcome: number, now: number): void;
  /** Drops what has aged out of the window (time windows only). */
  rotate(now: number): void;
  /** Forgets every call. */
  reset(): void;
  /** The window's content, for `toJSON()`. */
  toJSON(): WindowSnapshot;
  /** Loads `snapshot` if it has this window's shape; returns false (and stays empty) otherwise. */
  restore(snapshot: WindowSnapshot): boolean;
}

/** Serialised content of a count window: outcomes, oldest first. */
export interface CountWindowSnapshot {
  readonly type: 'count';
  readonly size: number;
  readonly outcomes: readonly number[];
}

/** Serialised content of a time window: `[calls, failures, slow]` per bucket, oldest first. */
export interface TimeWindowSnapshot {
  readonly type: 'time';
  readonly bucketMs: number;
  /** Index (time / bucketMs) of the newest bucket. */
  readonly head: number;
  readonly buckets: readonly (readonly [number, number, number])[];
}

/** Serialised content of either window. */
export type WindowSnapshot = CountWindowSnapshot | TimeWindowSnapshot;
