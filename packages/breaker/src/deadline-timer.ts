import type { Clock } from './clock.ts';

/** Something with a deadline on a {@link DeadlineTimer}. */
export interface DeadlineEntry {
  /** Set by {@link DeadlineTimer.add}. */
  deadline: number;
  /** True once removed or expired. */
  settled: boolean;
  /** Called once when the deadline passes before {@link DeadlineTimer.remove}. */
  expire(): void;
}

/**
 * One timer for every call through a policy with a fixed duration (a timeout): since all calls
 * get the same duration, deadlines arrive in insertion order, so pending calls form a FIFO queue
 * and a single clock timer armed for the oldest live deadline serves them all. Adding and
 * removing a call is O(1) and touches no timer in the common case; the timer is `unref()`ed (by
 * the clock), re-armed only while calls are pending, and gone one period after the last call.
 */
export class DeadlineTimer {
  readonly #clock: Clock;
  readonly #durationMs: number;
  #queue: DeadlineEntry[] = [];
  #head = 0;
  #live = 0;
  #handle: unknown = undefined;
  #armed = false;

  constructor(clock: Clock, durationMs: number) {
    this.#clock = clock;
    this.#durationMs = durationMs;
  }

  /** Calls still waiting for their deadline. */
  get pending(): number {
    return this.#live;
  }

  /** Starts `entry`'s deadline (now + duration). */
  add(entry: DeadlineEntry): void {
    const deadline = this.#clock.now() + this.#durationMs;
    entry.deadline = deadline;
    entry.settled = false;
    this.#queue.push(entry);
    this.#live++;
    if (!this.#armed) this.#arm(this.#durationMs);
  }

  /** The call finished in time: forget its deadline. */
  remove(entry: DeadlineEntry): void {
    if (entry.settled) return;
    entry.settled = true;
    if (--this.#live === 0) {
      this.#queue.length = 0;
      this.#head = 0;
      return;
    }
    const queue = this.#queue;
    while (this.#head < queue.length && queue[this.#head]!.settled) this.#head++;
    this.#compact();
  }

  /** Cancels the timer when no call is pending (a later call arms it again). */
  close(): void {
    if (this.#live === 0 && this.#armed) {
      this.#armed = false;
      this.#clock.clearTimeout(this.#handle);
      this.#handle = undefined;
    }
  }

  readonly #fire = (): void => {
    this.#armed = false;
    this.#handle = undefined;
    const now = this.#clock.now();
    const queue = this.#queue;
    while (this.#head < queue.length) {
      const entry = queue[this.#head]!;
      if (!entry.settled) {
        if (entry.deadline > now) break;
        entry.settled = true;
        this.#live--;
        entry.expire();
      }
      this.#head++;
    }
    if (this.#live === 0) {
      queue.length = 0;
      this.#head = 0;
    } else {
      this.#compact();
      // expire() may have added entries (and armed the timer) itself.
      if (!this.#armed) this.#arm(Math.max(0, queue[this.#head]!.deadline - now));
    }
  };

  #arm(ms: number): void {
    this.#armed = true;
    this.#handle = this.#clock.setTimeout(this.#fire, ms);
  }

  #compact(): void {
    if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
  }
}
