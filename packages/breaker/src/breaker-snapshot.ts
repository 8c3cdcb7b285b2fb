import { z } from 'zod';
import { type BreakerStateName, InvalidSnapshotError } from './errors.ts';
import type { WindowSnapshot } from './sliding-window.ts';

/** What `breaker.toJSON()` returns and `breaker.hydrate()` accepts (plain JSON). */
export interface BreakerSnapshot {
  /** Format version, 1. */
  readonly version: 1;
  /** Name of the breaker that wrote it (informational; hydrating another breaker is allowed). */
  readonly name: string;
  readonly state: BreakerStateName;
  /** Times it opened since it last closed (drives a backoff `openMs`). */
  readonly openedCount: number;
  /** Clock time at which OPEN ends (OPEN only, else `null`). */
  readonly openUntil: number | null;
  /** Failures in a row (`consecutive` window). */
  readonly consecutiveFailures: number;
  /** Calls rejected since the breaker was created. */
  readonly rejectedCalls: number;
  /** The sliding window's content; `null` before the first recorded call. */
  readonly window: WindowSnapshot | null;
}

const count = z.number().int().nonnegative();
const windowSchema = z.discriminatedUnion('type', [
  z
    .object({
      type: z.literal('count'),
      size: z.number().int().positive(),
      outcomes: z.array(z.number().int().min(0).max(3)),
    })
    .refine((w) => w.outcomes.length <= w.size, {
      message: 'holds more outcomes than its size',
      path: ['outcomes'],
    }),
  z.object({
    type: z.literal('time'),
    bucketMs: z.number().positive().finite(),
    head: z.number().int(),
    buckets: z.array(
      z
        .tuple([count, count, count])
        .refine(([calls, failed, slow]) => failed <= calls && slow <= calls, {
          message: 'counts more failed or slow calls than calls',
        }),
    ),
  }),
]);

const snapshotSchema = z.object({
  version: z.literal(1),
  name: z.string(),
  state: z.enum(['CLOSED', 'OPEN', 'HALF_OPEN', 'FORCED_OPEN', 'DISABLED', 'METRICS_ONLY']),
  openedCount: count,
  openUntil: z.number().finite().nullable(),
  consecutiveFailures: count,
  rejectedCalls: count,
  window: windowSchema.nullable(),
});

/** Validates a snapshot (from `toJSON()`, possibly after a JSON round trip). */
export function parseSnapshot(input: unknown): BreakerSnapshot {
  const result = snapshotSchema.safeParse(input);
  if (result.success) {
    const snapshot = result.data as BreakerSnapshot;
    if (snapshot.state === 'OPEN' && snapshot.openUntil === null) {
      throw new InvalidSnapshotError(
        'openUntil',
        'hydrate(): an OPEN snapshot needs openUntil; pass what breaker.toJSON() returned.',
      );
    }
    return snapshot;
  }
  const issue = result.error.issues[0]!;
  const field = issue.path.map(String).join('.') || '(snapshot)';
  throw new InvalidSnapshotError(
    field,
    `hydrate(): field "${field}" of the snapshot is invalid: ${issue.message}. Pass what breaker.toJSON() returned.`,
  );
}
