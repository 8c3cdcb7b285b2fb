import { z } from 'zod';
import type { Clock } from './clock.ts';
import { IdempotencyError } from './errors.ts';
import type { IdempotencyEvent } from './events.ts';
import type { IdempotencyStore } from './store.ts';

/**
 * Validates `input` against `schema`; a failure throws `INVALID_OPTIONS` naming the option, e.g.
 * "Invalid option `lockTtlMs` of idempotency(): Too small: expected number to be >0".
 */
export function parseOptions<S extends z.ZodType>(
  schema: S,
  input: unknown,
  owner: string,
): z.output<S> {
  const result = schema.safeParse(input ?? {});
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const [name = '(options)', ...rest] = issue.path.map(String);
  const at = rest.length > 0 ? ` (at ${[name, ...rest].join('.')})` : '';
  throw new IdempotencyError(
    'INVALID_OPTIONS',
    `Invalid option \`${name}\`${at} of ${owner}: ${issue.message}. See the Options table in the README.`,
    { cause: result.error },
  );
}

const isFunction = (v: unknown) => typeof v === 'function';

/** A zod schema for a callback option. */
export const fn = <F>() => z.custom<F>(isFunction, 'expected a function');

const storeSchema = z.custom<IdempotencyStore>(
  (v) =>
    typeof v === 'object' &&
    v !== null &&
    ['claim', 'extend', 'complete', 'release'].every(
      (m) => typeof (v as Record<string, unknown>)[m] === 'function',
    ),
  'expected an IdempotencyStore (an object with claim, extend, complete and release)',
);

const clockSchema = z.custom<Clock>(
  (v) =>
    typeof v === 'object' &&
    v !== null &&
    ['now', 'setTimeout', 'clearTimeout'].every(
      (m) => typeof (v as Record<string, unknown>)[m] === 'function',
    ),
  'expected a clock with now(), setTimeout() and clearTimeout()',
);

/** Options every use of the engine shares (HTTP middleware and the function wrapper). */
export const engineShape = {
  store: storeSchema,
  lockTtlMs: z.number().int().positive().default(10_000),
  retentionMs: z.number().int().positive().default(86_400_000),
  waitForInFlightMs: z.number().int().nonnegative().default(0),
  pollIntervalMs: z.number().int().positive().default(25),
  failOpen: z.boolean().default(false),
  clock: clockSchema.optional(),
  onEvent: fn<(event: IdempotencyEvent) => void>().optional(),
};

const engineSchema = z.object(engineShape).strict();

/** Validated engine options. */
export type EngineOptions = z.output<typeof engineSchema>;

/** Options every use of the engine shares, as the caller writes them. */
export interface EngineInput {
  /** Where records live: `new RedisStore({ client })`, `new MemoryStore()`, or your own. Required. */
  store: IdempotencyStore;
  /** How long a lock lives without extension; it is extended every third of it while work runs. Default 10 000. */
  lockTtlMs?: number;
  /** How long a completed result is replayed. Default 86 400 000 (24 h). */
  retentionMs?: number;
  /** 0 (default): a duplicate that arrives while the first runs is refused (409). > 0: it waits up to this long for the result and replays it. */
  waitForInFlightMs?: number;
  /** How often a waiting duplicate asks the store again. Default 25. */
  pollIntervalMs?: number;
  /** When the store is down or slow: false (default) refuses (503 + Retry-After); true runs the work without idempotency. */
  failOpen?: boolean;
  /** Time source for lock extension and waiting. Default: the system clock (unref'd timers). */
  clock?: Clock;
  /** Called for every outcome and notable event (executed, replayed, not-stored, …). */
  onEvent?: (event: IdempotencyEvent) => void;
}
