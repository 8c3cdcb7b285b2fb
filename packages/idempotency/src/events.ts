/** What happened to one request or call. */
export type IdempotencyEventType =
  /** The work ran and its result was stored. */
  | 'executed'
  /** A stored result was replayed. */
  | 'replayed'
  /** A duplicate arrived while the first was still running (409), or waiting for it timed out. */
  | 'conflict'
  /** The key was reused with a different request (422). */
  | 'mismatch'
  /** Refused before claiming (`reason`): key `missing` or `invalid` (400), `body-too-large` (413), `scope-missing` (500). */
  | 'rejected'
  /** The client went away while the work ran (`reason`: connection-lost): its result will not be stored, and the key stays locked until the work ends. */
  | 'abandoned'
  /** The work ran but its result was not stored (`reason`: too-large, streamed, server-error, thrown, not-encodable, connection-lost, lock-lost); the key was released. */
  | 'not-stored'
  /** The lock could not be extended: another owner may run (the late result will not be stored). */
  | 'lock-lost'
  /** The store failed or timed out (`error`). */
  | 'store-error'
  /** The store failed and `failOpen` let the work run without idempotency. */
  | 'fail-open';

/** One event, passed to `onEvent` and recorded on the span. */
export interface IdempotencyEvent {
  readonly type: IdempotencyEventType;
  /** The idempotency key as parsed from the request (absent for `rejected` without a key). */
  readonly key?: string | undefined;
  /** Why (for `not-stored`, `rejected`, `conflict`). */
  readonly reason?: string | undefined;
  /** The underlying error (for `store-error`). */
  readonly error?: unknown;
}
