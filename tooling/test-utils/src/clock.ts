/** A pending callback scheduled on a {@link ManualClock}. */
interface Scheduled {
  readonly id: number;
  readonly at: number;
  readonly callback: () => void;
}

/**
 * A clock that moves only when told. It implements `now()` plus `setTimeout`/`clearTimeout`,
 * so code that takes an injectable clock can be tested without sleeping.
 */
export class ManualClock {
  #now: number;
  #nextId = 1;
  #scheduled: Scheduled[] = [];

  constructor(start = 0) {
    this.#now = start;
  }

  /** Current time in milliseconds. */
  now(): number {
    return this.#now;
  }

  /** Schedules `callback` after `ms` of clock time; returns a handle for {@link clearTimeout}. */
  setTimeout(callback: () => void, ms: number): number {
    const id = this.#nextId++;
    this.#scheduled.push({ id, at: this.#now + Math.max(0, ms), callback });
    this.#scheduled.sort((a, b) => a.at - b.at || a.id - b.id);
    return id;
  }

  /** Cancels a callback scheduled with {@link setTimeout}. */
  clearTimeout(id: unknown): void {
    this.#scheduled = this.#scheduled.filter((entry) => entry.id !== id);
  }

  /** How many callbacks are waiting. */
  get pending(): number {
    return this.#scheduled.length;
  }

  /** Moves time forward by `ms`, running due callbacks in order at their own time. */
  advance(ms: number): void {
    const target = this.#now + ms;
    for (;;) {
      const next = this.#scheduled[0];
      if (!next || next.at > target) break;
      this.#scheduled.shift();
      this.#now = next.at;
      next.callback();
    }
    this.#now = target;
  }

  /** Like {@link advance}, but lets promise callbacks run between timers. */
  async advanceAsync(ms: number): Promise<void> {
    const target = this.#now + ms;
    for (;;) {
      await flushMicrotasks();
      const next = this.#scheduled[0];
      if (!next || next.at > target) break;
      this.#scheduled.shift();
      this.#now = next.at;
      next.callback();
    }
    this.#now = target;
    await flushMicrotasks();
  }
}

/** Lets every queued promise callback run (a few macrotask turns deep). */
export async function flushMicrotasks(turns = 5): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}
