export type { Clock } from './clock.ts';
export { systemClock } from './clock.ts';
export type { IdempotencyErrorCode } from './errors.ts';
export { IdempotencyError, isIdempotencyError } from './errors.ts';
export type { IdempotencyEvent, IdempotencyEventType } from './events.ts';
export { digest } from './fingerprint.ts';
export type {
  Begin,
  CapturedResponse,
  IdempotencyOptions,
  RequestView,
} from './http.ts';
export {
  Attempt,
  createHttpIdempotency,
  DEFAULT_STORED_HEADERS,
  HttpIdempotency,
} from './http.ts';
export type { IdempotentOptions } from './idempotent.ts';
export { idempotent } from './idempotent.ts';
export { MAX_KEY_LENGTH, parseIdempotencyKey } from './key.ts';
export type { MemoryStoreOptions } from './memory-store.ts';
export { MemoryStore } from './memory-store.ts';
export type { EngineInput } from './options.ts';
export type { RedisStoreOptions } from './redis-store.ts';
export { RedisStore } from './redis-store.ts';
export type { HeaderEntries, StoredResponse } from './response.ts';
export { decodeResponse, encodeResponse } from './response.ts';
export type {
  ClaimInput,
  ClaimResult,
  CompleteInput,
  IdempotencyStore,
  LockInput,
} from './store.ts';
