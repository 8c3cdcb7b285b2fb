import { type Clock, o, systemClock } from '@ballast/kernel';
import { StoreFullError, storeClosed } from './errors.ts';
import { parse } from './options.ts';
import type {
  ClaimInput,
  ClaimResult,
  CompleteInput,
  IdempotencyStore,
  LockInput,
} from './store.ts';

interface Entry {
  state: 'locked' | 'completed';
  owner: string;
  fingerprint: string;
  payload?: Uint8Array;
  expiresAt: number;
}

const memoryStoreSchema = o.object({
  maxKeys: o.integer({ min: 1 }).default(10_000),
  clock: o
    .custom<Pick<Clock, 'now'>>(
      (v) => typeof v === 'object' && v !== null && typeof (v as Clock).now === 'function',
      'an object with now()',
    )
    .optional(),
});

/** Options of {@link memoryStore}. */
export interface MemoryStoreOptions {
  /** Most records kept; when full, expired then the oldest completed records are dropped. Default 10 000. */
  maxKeys?: number | undefined;
  /** Time source for expiry (only `now()` is used). Default: the system clock. */
  clock?: Pick<Clock, 'now'> | undefined;
}

/** An in-process {@link IdempotencyStore} (see {@link memoryStore}). */
export interface MemoryStore extends IdempotencyStore {
  /** Number of live records (locks and completed responses). */
  readonly size: number;
  /** Drops every record; afterwards every operation rejects with `StoreClosedError`. Idempotent. */
  close(): Promise<void>;
  /** The same as `close()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * An in-process store for tests and single-instance services: bounded (`maxKeys`), with lock and
 * retention expiry read from an injectable clock. Records vanish with the process, and two
 * processes do not share them — use `redisStore()` behind a load balancer.
 */
export function memoryStore(options: MemoryStoreOptions = {}): MemoryStore {
  return new InMemoryStore(options);
}

class InMemoryStore implements MemoryStore {
  readonly #entries = new Map<string, Entry>();
  readonly #maxKeys: number;
  readonly #clock: Pick<Clock, 'now'>;
  #closed = false;

  constructor(options: MemoryStoreOptions = {}) {
    const parsed = parse(memoryStoreSchema, options, 'memoryStore()');
    this.#maxKeys = parsed.maxKeys;
    this.#clock = parsed.clock ?? systemClock;
  }

  get size(): number {
    this.#sweep();
    return this.#entries.size;
  }

  async claim({ key, fingerprint, owner, lockTtlMs }: ClaimInput): Promise<ClaimResult> {
    if (this.#closed) throw storeClosed('memoryStore()', 'claim');
    const entry = this.#live(key);
    if (!entry) {
      this.#makeRoom();
      this.#entries.set(key, {
        state: 'locked',
        owner,
        fingerprint,
        expiresAt: this.#clock.now() + lockTtlMs,
      });
      return { state: 'claimed' };
    }
    if (entry.fingerprint !== fingerprint) return { state: 'mismatch' };
    if (entry.state === 'completed') return { state: 'completed', payload: entry.payload! };
    return { state: 'locked' };
  }

  async extend({ key, owner, lockTtlMs }: LockInput): Promise<boolean> {
    if (this.#closed) throw storeClosed('memoryStore()', 'extend');
    const entry = this.#owned(key, owner);
    if (entry) entry.expiresAt = this.#clock.now() + (lockTtlMs ?? 0);
    return entry !== undefined;
  }

  async complete({ key, owner, payload, retentionMs }: CompleteInput): Promise<boolean> {
    if (this.#closed) throw storeClosed('memoryStore()', 'complete');
    const entry = this.#owned(key, owner);
    if (!entry) return false;
    entry.state = 'completed';
    entry.payload = payload.slice();
    entry.expiresAt = this.#clock.now() + retentionMs;
    return true;
  }

  async release({ key, owner }: LockInput): Promise<boolean> {
    if (this.#closed) throw storeClosed('memoryStore()', 'release');
    const entry = this.#owned(key, owner);
    if (entry) this.#entries.delete(key);
    return entry !== undefined;
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#entries.clear();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #live(key: string): Entry | undefined {
    const entry = this.#entries.get(key);
    if (entry && entry.expiresAt <= this.#clock.now()) {
      this.#entries.delete(key);
      return undefined;
    }
    return entry;
  }

  #owned(key: string, owner: string): Entry | undefined {
    const entry = this.#live(key);
    return entry?.state === 'locked' && entry.owner === owner ? entry : undefined;
  }

  #sweep(): void {
    const now = this.#clock.now();
    for (const [key, entry] of this.#entries) if (entry.expiresAt <= now) this.#entries.delete(key);
  }

  #makeRoom(): void {
    if (this.#entries.size < this.#maxKeys) return;
    // Maps iterate in insertion order: drop expired entries and then the oldest completed one,
    // stopping as soon as there is room (a full sweep per insert would be O(n)).
    const now = this.#clock.now();
    let oldestCompleted: string | undefined;
    for (const [key, entry] of this.#entries) {
      if (entry.expiresAt <= now) {
        this.#entries.delete(key);
        if (this.#entries.size < this.#maxKeys) return;
      } else if (entry.state === 'completed') {
        oldestCompleted = key;
        break;
      }
    }
    if (oldestCompleted !== undefined) {
      this.#entries.delete(oldestCompleted);
      return;
    }
    throw new StoreFullError(
      `The memory store holds ${this.#maxKeys} running requests (maxKeys); raise maxKeys or use redisStore().`,
    );
  }
}
