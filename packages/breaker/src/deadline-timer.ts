import { type Clock, unrefTimer } from '@ballast/kernel';

/** Something with a deadline on a {@link DeadlineTimer}. */
export interface DeadlineEntry {
  /** Set by the timer: when the entry expires (`NaN` until the next tick stamps it). */
  deadline: number;
  /** True once removed or expired. */
  settled: boolean;
  /** Called once when the deadline passes before {@link DeadlineTimer.remove}. */
  expire(): void;
}

/**
 * One coarse timer for every call through a policy with a fixed duration (a timeout), so that a
 * call costs neither a timer nor a clock read:
 *
 * - while calls come and go, a single `unref()`ed timer ticks every `durationMs / 32` (at least
 *   1 ms), reads the clock once, stamps the calls added since the previous tick with
 *   `tick time + duration`, and expires the calls whose deadline has passed;
 * - all calls get the same duration, so deadlines arrive in insertion order: pending calls are a
 *   FIFO queue and removal is O(1);
 * - a deadline never fires early (a call is stamped no earlier than it was added) and at most about
 *   two ticks late; the first call after a quiet period reads the clock and gets an exact deadline;
 * - the ticker stops on the first tick that finds nothing pending and nothing added.
 */
export class DeadlineTimer {
  readonly #clock: Clock;
  readonly #durationMs: number;
  readonly #tickMs: number;
  /** Slots `[head, tail)` hold the pending calls, oldest first (the array keeps its capacity). */
  #queue: (DeadlineEntry | undefined)[] = [];
  #head = 0;
  #tail = 0;
  /** Index of the first entry not yet stamped with a deadline. */
  #unstamped = 0;
  #live = 0;
  #addedSinceTick = false;
  #handle: unknown = undefined;

  constructor(clock: Clock, durationMs: number) {
    this.#clock = clock;
    this.#durationMs = durationMs;
    this.#tickMs = Math.min(1_000, Math.max(1, durationMs / 32));
  }

  /** Calls still waiting for their deadline. */
  get pending(): number {
    return this.#live;
  }

  /** Starts `entry`'s deadline (`durationMs` from now). */
  add(entry: DeadlineEntry): void {
    entry.settled = false;
    this.#queue[this.#tail++] = entry;
    if (this.#handle === undefined) {
      // Quiet until now: read the clock, stamp this call exactly and start ticking.
      entry.deadline = this.#clock.now() + this.#durationMs;
      this.#unstamped = this.#tail;
      // Housekeeping shared by every call: it must not hold a process that is otherwise done.
      this.#handle = unrefTimer(this.#clock.setTimeout(this.#tick, this.#tickMs));
    } else {
      entry.deadline = Number.NaN;
      this.#addedSinceTick = true;
    }
    this.#live++;
  }

  /** The call finished in time: forget its deadline. */
  remove(entry: DeadlineEntry): void {
    if (entry.settled) return;
    entry.settled = true;
    if (--this.#live === 0) {
      this.#reset();
      return;
    }
    const queue = this.#queue;
    while (this.#head < this.#tail && queue[this.#head]!.settled) queue[this.#head++] = undefined;
    if (this.#head > 1_024 && this.#head * 2 > this.#tail) {
      this.#queue = queue.slice(this.#head, this.#tail);
      this.#unstamped = Math.max(0, this.#unstamped - this.#head);
      this.#tail -= this.#head;
      this.#head = 0;
    }
  }

  /** Stops the ticker if no call is pending (a later call starts it again). */
  close(): void {
    if (this.#live === 0 && this.#handle !== undefined) {
      this.#clock.clearTimeout(this.#handle);
      this.#handle = undefined;
      this.#addedSinceTick = false;
    }
  }

  readonly #tick = (): void => {
    const now = this.#clock.now();
    const queue = this.#queue;
    const deadline = now + this.#durationMs;
    for (let i = this.#unstamped; i < this.#tail; i++) queue[i]!.deadline = deadline;
    this.#unstamped = this.#tail;
    const busy = this.#addedSinceTick || this.#live > 0;
    this.#addedSinceTick = false;
    while (this.#head < this.#tail) {
      const entry = queue[this.#head]!;
      if (!entry.settled) {
        if (entry.deadline > now) break;
        entry.settled = true;
        this.#live--;
        entry.expire();
      }
      queue[this.#head++] = undefined;
    }
    if (this.#live === 0) this.#reset();
    this.#handle = busy ? unrefTimer(this.#clock.setTimeout(this.#tick, this.#tickMs)) : undefined;
  };

  /** No call is pending: drop the references and reuse the slots from the start. */
  #reset(): void {
    const queue = this.#queue;
    for (let i = this.#head; i < this.#tail; i++) queue[i] = undefined;
    this.#head = 0;
    this.#tail = 0;
    this.#unstamped = 0;
  }
}
