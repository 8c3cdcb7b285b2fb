export type { Clock, Listener, Subscription } from '@ballast/kernel';
export type {
  IdempotencyErrorCode,
  IdempotencyErrorOptions,
  IdempotencyErrors,
} from './errors.ts';
export {
  AbortedError,
  IdempotencyError,
  IdempotencyKeyInProgressError,
  IdempotencyKeyInvalidError,
  IdempotencyKeyMissingError,
  IdempotencyKeyReusedError,
  InvalidOptionsError,
  isIdempotencyError,
  RequestTooLargeError,
  ResultNotEncodableError,
  ScopeMissingError,
  StoreClosedError,
  StoreFullError,
  StoreUnavailableError,
} from './errors.ts';
export type { IdempotencyEvent, IdempotencyEventType } from './events.ts';
export type { IdempotencyOptions, ScopeValue } from './http.ts';
export { DEFAULT_STORED_HEADERS } from './http.ts';
export type { IdempotentFunction, IdempotentOptions } from './idempotent.ts';
export { idempotent } from './idempotent.ts';
export { idempotencyKeyOf, MAX_KEY_LENGTH, parseIdempotencyKey } from './key.ts';
export type { MemoryStore, MemoryStoreOptions } from './memory-store.ts';
export { memoryStore } from './memory-store.ts';
export type { EngineInput, IdempotencyEvents } from './options.ts';
export type { RedisClientLike, RedisStore, RedisStoreOptions } from './redis-store.ts';
export { redisStore } from './redis-store.ts';
export type {
  ClaimInput,
  ClaimResult,
  CompleteInput,
  IdempotencyStore,
  LockInput,
} from './store.ts';
