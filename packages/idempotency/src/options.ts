import {
  type Clock,
  type InferShape,
  type Listener,
  o,
  parseOptions,
  type Schema,
  type Subscription,
} from '@ballast/kernel';
import { InvalidOptionsError } from './errors.ts';
import type { IdempotencyEvent } from './events.ts';
import type { IdempotencyStore } from './store.ts';

/** Validates `input` once, at construction; a bad option throws {@link InvalidOptionsError}. */
export function parse<T>(schema: Schema<T>, input: unknown, factory: string): T {
  if (typeof input === 'object' && input !== null && 'onEvent' in input) {
    // Removed in 0.2 (events are a subscription now): say what replaces it, not just "unknown".
    throw new InvalidOptionsError({
      option: 'onEvent',
      received: (input as { onEvent: unknown }).onEvent,
      message: `${factory}: option "onEvent" was removed; subscribe on what the factory returns instead: \`const middleware = idempotency({ store }); middleware.onEvent(listener)\` (or \`fn.onEvent(listener)\` for idempotent()), which returns a Subscription.`,
    });
  }
  return parseOptions(schema, input, { factory, error: InvalidOptionsError });
}

const STORE_METHODS = ['claim', 'extend', 'complete', 'release'] as const;

/** Options every use of the engine shares (HTTP middleware and the function wrapper). */
export const engineShape = {
  store: o.custom<IdempotencyStore>(
    (v) =>
      typeof v === 'object' &&
      v !== null &&
      STORE_METHODS.every((m) => typeof (v as Record<string, unknown>)[m] === 'function'),
    'an idempotency store (redisStore(), memoryStore(), or an object with claim, extend, complete and release)',
  ),
  lockTtlMs: o.integer({ min: 1 }).default(10_000),
  retentionMs: o.integer({ min: 1 }).default(86_400_000),
  waitForInFlightMs: o.integer({ min: 0 }).default(0),
  pollIntervalMs: o.integer({ min: 1 }).default(25),
  failOpen: o.boolean().default(false),
  clock: o.clock<Clock>().optional(),
};

/** Validated engine options. */
export type EngineOptions = InferShape<typeof engineShape>;

/** Options every use of the engine shares, as the caller writes them. */
export interface EngineInput {
  /** Where records live: `redisStore({ client })`, `memoryStore()`, or your own. Required. */
  store: IdempotencyStore;
  /** How long a lock lives without extension; it is extended while work runs (every third of it). Default 10 000. */
  lockTtlMs?: number | undefined;
  /** How long a completed result is replayed. Default 86 400 000 (24 h). */
  retentionMs?: number | undefined;
  /** 0 (default): a duplicate that arrives while the first runs is refused (409). > 0: it waits up to this long for the result and replays it. */
  waitForInFlightMs?: number | undefined;
  /** How often a waiting duplicate asks the store again. Default 25. */
  pollIntervalMs?: number | undefined;
  /** When the store is down or slow: false (default) refuses (503 + Retry-After); true runs the work without idempotency. */
  failOpen?: boolean | undefined;
  /** Time source for lock extension and waiting. Default: the system clock. */
  clock?: Clock | undefined;
}

/**
 * What the middleware of every adapter, and the function {@link idempotent} returns, also have:
 * a subscription to its events.
 */
export interface IdempotencyEvents {
  /**
   * Calls `listener` with every outcome and notable event (`executed`, `replayed`, `not-stored`,
   * …) of this middleware or function, for logs. Returns a `Subscription` (`dispose()`, or
   * `using`). A listener that throws does not affect the request: its error is rethrown on a
   * microtask (an uncaught exception), never swallowed.
   */
  onEvent(listener: Listener<IdempotencyEvent>): Subscription;
}
