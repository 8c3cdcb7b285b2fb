import { z } from 'zod';
import { type Clock, systemClock } from './clock.ts';
import { IdempotencyError } from './errors.ts';
import { parseOptions } from './options.ts';
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

const memoryStoreOptions = z
  .object({
    maxKeys: z.number().int().positive().default(10_000),
    clock: z
      .custom<Clock>(
        (v) => typeof v === 'object' && v !== null && typeof (v as Clock).now === 'function',
        'expected an object with now()',
      )
      .optional(),
  })
  .strict();

/** Options of {@link MemoryStore}. */
export interface MemoryStoreOptions {
  /** Most records kept; when full, expired then the oldest completed records are dropped. Default 10 000. */
  maxKeys?: number;
  /** Time source for expiry (only `now()` is used). Default: the system clock. */
  clock?: Pick<Clock, 'now'> & Partial<Clock>;
}

/**
 * An in-process store for tests and single-instance services: bounded (`maxKeys`), with lock and
 * retention expiry read from an injectable clock. Records vanish with the process, and two
 * processes do not share them — use {@link RedisStore} behind a load balancer.
 */
export class MemoryStore implements IdempotencyStore {
  readonly #entries = new Map<string, Entry>();
  readonly #maxKeys: number;
  readonly #clock: Pick<Clock, 'now'>;

  constructor(options: MemoryStoreOptions = {}) {
    const parsed = parseOptions(memoryStoreOptions, options, 'MemoryStore');
    this.#maxKeys = parsed.maxKeys;
    this.#clock = parsed.clock ?? systemClock;
  }

  /** Number of live records (locks and completed responses). */
  get size(): number {
    this.#sweep();
    return this.#entries.size;
  }

  async claim({ key, fingerprint, owner, lockTtlMs }: ClaimInput): Promise<ClaimResult> {
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
    const entry = this.#owned(key, owner);
    if (entry) entry.expiresAt = this.#clock.now() + (lockTtlMs ?? 0);
    return entry !== undefined;
  }

  async complete({ key, owner, payload, retentionMs }: CompleteInput): Promise<boolean> {
    const entry = this.#owned(key, owner);
    if (!entry) return false;
    entry.state = 'completed';
    entry.payload = payload.slice();
    entry.expiresAt = this.#clock.now() + retentionMs;
    return true;
  }

  async release({ key, owner }: LockInput): Promise<boolean> {
    const entry = this.#owned(key, owner);
    if (entry) this.#entries.delete(key);
    return entry !== undefined;
  }

  /** Drops every record. */
  async close(): Promise<void> {
    this.#entries.clear();
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
    throw new IdempotencyError(
      'STORE_FULL',
      `MemoryStore holds ${this.#maxKeys} running requests (maxKeys); raise maxKeys or use RedisStore.`,
    );
  }
}
