import type { Clock } from '@ballast/kernel';

/** Options of the retry budget shared by every call through one `retry` policy. */
export interface RetryBudgetOptions {
  /** Retries allowed per recent call, e.g. `0.2` = at most one retry per five calls. Default `0.2`. */
  ratio?: number | undefined;
  /** Retries always allowed per second, even with little traffic (the floor). Default `10`. */
  minPerSecond?: number | undefined;
  /** How long a call keeps counting as "recent", in milliseconds (deposits decay over it). Default `10_000`. */
  windowMs?: number | undefined;
}

/**
 * A token bucket that bounds retries: every call deposits `ratio` tokens that decay away over
 * `windowMs`, a floor bucket refills at `minPerSecond` (holding at most one second's worth, at least one token), and
 * each retry withdraws one token. When a dependency fails for everyone, retries stay a small
 * fraction of the traffic instead of multiplying it.
 */
export class RetryBudget {
  readonly #clock: Clock;
  readonly #ratio: number;
  readonly #minPerSecond: number;
  readonly #windowMs: number;
  #deposits = 0;
  /** Calls recorded since the clock was last read (the clock is read once per 64 calls). */
  #unsynced = 0;
  readonly #floorCap: number;
  #floor: number;
  #updatedAt: number;

  constructor(clock: Clock, options: { [K in keyof RetryBudgetOptions]-?: number }) {
    this.#clock = clock;
    this.#ratio = options.ratio;
    this.#minPerSecond = options.minPerSecond;
    this.#windowMs = options.windowMs;
    this.#floorCap = options.minPerSecond > 0 ? Math.max(1, options.minPerSecond) : 0;
    this.#floor = this.#floorCap;
    this.#updatedAt = clock.now();
  }

  /** Tokens available now (a retry needs one). */
  get available(): number {
    this.#sync();
    return this.#deposits + this.#floor;
  }

  /** Records one call (not a retry). */
  deposit(): void {
    if (++this.#unsynced === 64) this.#sync();
  }

  /** Takes a token for one retry; false when the budget is spent. */
  tryWithdraw(): boolean {
    this.#sync();
    if (this.#deposits >= 1) {
      this.#deposits -= 1;
      return true;
    }
    if (this.#deposits + this.#floor >= 1) {
      this.#floor -= 1 - this.#deposits;
      this.#deposits = 0;
      return true;
    }
    return false;
  }

  /** Decays older deposits and refills the floor up to now, then adds the calls not yet counted. */
  #sync(): void {
    const now = this.#clock.now();
    const elapsed = now - this.#updatedAt;
    if (elapsed > 0) {
      this.#updatedAt = now;
      if (this.#deposits > 0) this.#deposits *= Math.exp(-elapsed / this.#windowMs);
      this.#floor = Math.min(this.#floorCap, this.#floor + (this.#minPerSecond * elapsed) / 1000);
    }
    this.#deposits += this.#unsynced * this.#ratio;
    this.#unsynced = 0;
  }
}
