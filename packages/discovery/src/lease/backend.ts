/**
 * What a lease needs from a store: atomic acquire with a fencing token, compare-and-set renewal,
 * compare-and-delete release, and a read of the current holder. Times are the backend's own clock
 * (`serverTimeMs`), so a history of holders can be checked against one clock.
 */
export interface LeaseBackend {
  /** What kind of store this is (`'redis'`, `'consul'`), for error messages. */
  readonly kind: string;
  /**
   * Takes `key` for `ttlMs` when nobody holds it, with the next fencing token of the key; else
   * says how long the current holder still has.
   */
  acquire(key: string, owner: string, ttlMs: number): Promise<LeaseAcquireResult>;
  /** Extends `key` by `ttlMs` only when `token` still holds it. */
  renew(key: string, token: number, ttlMs: number): Promise<LeaseRenewResult>;
  /** Deletes `key` only when `token` still holds it. */
  release(key: string, token: number): Promise<LeaseReleaseResult>;
  /** Who holds `key` now, if anyone. */
  holder(key: string): Promise<LeaseHolder | undefined>;
}

/** Result of {@link LeaseBackend.acquire}. */
export type LeaseAcquireResult =
  | {
      /** The key was free and is now held. */
      readonly acquired: true;
      /** The fencing token of this hold: greater than every earlier one of the key. */
      readonly token: number;
      /** The backend's time when it was taken, in ms since the epoch. */
      readonly serverTimeMs: number;
    }
  | {
      /** Someone else holds the key. */
      readonly acquired: false;
      /** How long the current hold lasts at most, in ms. */
      readonly remainingMs: number;
      /** The backend's time of the answer, in ms since the epoch. */
      readonly serverTimeMs: number;
    };

/** Result of {@link LeaseBackend.renew}. */
export interface LeaseRenewResult {
  /**
   * `ok`: extended; `missing`: the key had expired; `stolen`: another token holds it;
   * `session-invalidated`: the backend's session behind the hold is gone (Consul).
   */
  readonly status: 'ok' | 'missing' | 'stolen' | 'session-invalidated';
  /** The backend's time of the renewal, in ms since the epoch. */
  readonly serverTimeMs: number;
}

/** Result of {@link LeaseBackend.release}. */
export interface LeaseReleaseResult {
  /** True when this token held the key and it was deleted. */
  readonly released: boolean;
  /** The backend's time of the release, in ms since the epoch. */
  readonly serverTimeMs: number;
}

/** The current holder of a key. */
export interface LeaseHolder {
  /** The holder's `owner` string (a campaign's `id`). */
  readonly owner: string;
  /** The holder's fencing token. */
  readonly token: number;
}
