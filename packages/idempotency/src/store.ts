/** What a store answers to a claim. */
export type ClaimResult =
  /** The key was free (or its lock had expired): the caller now holds the lock and must run. */
  | { readonly state: 'claimed' }
  /** Another owner holds a valid lock for the same request. */
  | { readonly state: 'locked' }
  /** The key exists (locked or completed) with a different request fingerprint. */
  | { readonly state: 'mismatch' }
  /** The key completed earlier with the same fingerprint: here is the stored payload. */
  | { readonly state: 'completed'; readonly payload: Uint8Array };

/** Arguments of {@link IdempotencyStore.claim}. */
export interface ClaimInput {
  /** The store key: `<scope length>:<scope>:<key>`, scoped by the engine (clear text, not hashed). */
  readonly key: string;
  /** Digest of the request; a different fingerprint under the same key is a mismatch. */
  readonly fingerprint: string;
  /** Fencing token of this attempt: only this owner may extend, complete or release the lock. */
  readonly owner: string;
  /** How long the lock lives unless extended. */
  readonly lockTtlMs: number;
  /** Ends a wait for the store early (the claim of a duplicate that waits for the first). */
  readonly signal?: AbortSignal | undefined;
}

/** Arguments of {@link IdempotencyStore.extend} and {@link IdempotencyStore.release}. */
export interface LockInput {
  readonly key: string;
  readonly owner: string;
  /** The fingerprint the lock was claimed with. */
  readonly fingerprint: string;
  /** New lock lifetime (extend only). */
  readonly lockTtlMs?: number | undefined;
  readonly signal?: AbortSignal | undefined;
}

/** Arguments of {@link IdempotencyStore.complete}. */
export interface CompleteInput {
  readonly key: string;
  readonly owner: string;
  /** The fingerprint the lock was claimed with. */
  readonly fingerprint: string;
  /** Opaque bytes to hand back to later claims with the same fingerprint. */
  readonly payload: Uint8Array;
  /** How long the completed record is kept. */
  readonly retentionMs: number;
  readonly signal?: AbortSignal | undefined;
}

/**
 * Internal, not part of the store contract (so not exported from the package): a store that has
 * a method under this symbol takes a payload that is text, and stores exactly its UTF-8 bytes —
 * what `complete({ payload: Buffer.from(text) })` would store — without the engine making those
 * bytes first. The Redis store has it: an ioredis command whose arguments are all strings is
 * written as one string (encoded once, by the socket), while a Buffer argument makes ioredis
 * assemble the command in a buffer of its own, a copy and more CPU per completion. A store
 * without it gets the bytes. Module-local on purpose: two copies of this package never mix it.
 */
export const COMPLETE_TEXT: unique symbol = Symbol('@ballast/idempotency.completeText');

/** Arguments of a store's {@link COMPLETE_TEXT} method: {@link CompleteInput} with text. */
export interface CompleteTextInput extends Omit<CompleteInput, 'payload'> {
  /** The payload as text: its UTF-8 bytes are what later claims get back. */
  readonly text: string;
}

/** A store that completes with text as well (see {@link COMPLETE_TEXT}). */
export interface TextCompletingStore extends IdempotencyStore {
  [COMPLETE_TEXT](input: CompleteTextInput): Promise<boolean>;
}

/** True when `store` takes text payloads (see {@link COMPLETE_TEXT}). */
export function completesText(store: IdempotencyStore): store is TextCompletingStore {
  return typeof (store as Partial<TextCompletingStore>)[COMPLETE_TEXT] === 'function';
}

/**
 * Where idempotency records live. Implement it to keep records in Postgres, DynamoDB, … — the
 * contract (see the README, "Store interface") is four operations, each atomic for one key:
 *
 * - `claim`: if the key is absent (or expired) create a lock `{owner, fingerprint}` that expires
 *   after `lockTtlMs` and answer `claimed`; else answer `mismatch` when the stored fingerprint
 *   differs, `completed` (with the payload) when it completed, `locked` otherwise.
 * - `extend`: push the lock's expiry to now + `lockTtlMs` only if `owner` still holds it.
 * - `complete`: only if `owner` still holds the lock, store the payload for `retentionMs`.
 * - `release`: only if `owner` still holds the lock, delete the record.
 *
 * `extend`, `complete` and `release` answer `false` when the owner no longer holds the lock (it
 * expired and perhaps another owner claimed it); that fencing keeps a late writer from
 * overwriting. Operations that cannot reach the backend reject with `StoreUnavailableError`
 * (`STORE_UNAVAILABLE`).
 */
export interface IdempotencyStore {
  claim(input: ClaimInput): Promise<ClaimResult>;
  extend(input: LockInput): Promise<boolean>;
  complete(input: CompleteInput): Promise<boolean>;
  release(input: LockInput): Promise<boolean>;
  /** Frees what the store opened itself. */
  close?(): Promise<void>;
  /** The same as `close()`, for `await using`. */
  [Symbol.asyncDispose]?(): Promise<void>;
}
