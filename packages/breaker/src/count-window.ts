import {
  type CountWindowSnapshot,
  FAILED,
  SLOW,
  type SlidingWindow,
  type WindowSnapshot,
} from './sliding-window.ts';

/** Outcomes packed per array element: 2 bits each, 30 bits, so every element stays a small integer. */
const PER_WORD = 15;

/**
 * The last `size` calls, as a ring buffer of 2-bit outcomes with running totals: recording a
 * call evicts the oldest one and adjusts the totals, so a call costs the same for any `size`.
 *
 * The ring is allocated on the first failed or slow call: until then every call in the window was
 * a success, so counting them is enough (a healthy breaker never allocates it).
 */
export class CountWindow implements SlidingWindow {
  calls = 0;
  failures = 0;
  slow = 0;
  readonly #size: number;
  /** Outcomes, {@link PER_WORD} per element; `undefined` while every call succeeded. */
  #ring: number[] | undefined = undefined;
  /** Slot of the next call (the oldest one once the window is full). */
  #next = 0;

  /** @param successes calls that all succeeded, recorded before the window existed. */
  constructor(size: number, successes = 0) {
    this.#size = size;
    this.calls = Math.min(successes, size);
    this.#next = this.calls === size ? 0 : this.calls;
  }

  record(outcome: number, _now: number): void {
    const i = this.#next;
    let ring = this.#ring;
    if (ring === undefined) {
      if (outcome === 0) {
        if (this.calls < this.#size) this.calls++;
        this.#next = i + 1 === this.#size ? 0 : i + 1;
        return;
      }
      ring = new Array<number>(Math.ceil(this.#size / PER_WORD)).fill(0);
      this.#ring = ring;
    }
    const word = (i / PER_WORD) | 0;
    const shift = (i - word * PER_WORD) * 2;
    const bits = ring[word]!;
    if (this.calls === this.#size) {
      const old = (bits >> shift) & 3;
      if (old !== 0) {
        this.failures -= old & FAILED;
        this.slow -= old >> 1;
      }
    } else {
      this.calls++;
    }
    ring[word] = (bits & ~(3 << shift)) | (outcome << shift);
    if (outcome !== 0) {
      this.failures += outcome & FAILED;
      this.slow += (outcome & SLOW) >> 1;
    }
    this.#next = i + 1 === this.#size ? 0 : i + 1;
  }

  rotate(_now: number): void {}

  reset(): void {
    this.calls = 0;
    this.failures = 0;
    this.slow = 0;
    this.#next = 0;
    this.#ring?.fill(0);
  }

  toJSON(): CountWindowSnapshot {
    const outcomes: number[] = [];
    const size = this.#size;
    const ring = this.#ring;
    const first = this.calls === size ? this.#next : 0;
    for (let k = 0; k < this.calls; k++) {
      const i = (first + k) % size;
      const word = (i / PER_WORD) | 0;
      outcomes.push(ring === undefined ? 0 : (ring[word]! >> ((i - word * PER_WORD) * 2)) & 3);
    }
    return { type: 'count', size, outcomes };
  }

  restore(snapshot: WindowSnapshot): boolean {
    this.reset();
    if (snapshot.type !== 'count' || snapshot.size !== this.#size) return false;
    for (const outcome of snapshot.outcomes) this.record(outcome, 0);
    return true;
  }
}
