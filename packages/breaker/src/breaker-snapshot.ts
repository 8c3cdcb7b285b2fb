import { describe, OptionFailure, o } from '@ballast/kernel';
import { type BreakerStateName, InvalidSnapshotError } from './errors.ts';
import type { WindowSnapshot } from './sliding-window.ts';
import { finite } from './validate.ts';

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

const count = o.integer({ min: 0 });
const countWindow = o.object({
  type: o.literal('count'),
  size: o.integer({ min: 1 }),
  outcomes: o.array(o.integer({ min: 0, max: 3 })),
});
const timeWindow = o.object({
  type: o.literal('time'),
  bucketMs: finite({ gt: 0 }),
  head: o.number({ integer: true }),
  buckets: o.array(
    o
      .array(count, { minLength: 3, maxLength: 3 })
      .refine(
        ([calls, failed, slow]) => failed! <= calls! && slow! <= calls!,
        'counts more failed or slow calls than calls',
      ),
  ),
});

const snapshotSchema = o.object({
  version: o.literal(1),
  name: o.string(),
  state: o.oneOf(['CLOSED', 'OPEN', 'HALF_OPEN', 'FORCED_OPEN', 'DISABLED', 'METRICS_ONLY']),
  openedCount: count,
  openUntil: o.union(o.literal(null), finite()),
  consecutiveFailures: count,
  rejectedCalls: count,
  window: o.union(o.literal(null), countWindow, timeWindow),
});

/** Validates a snapshot (from `toJSON()`, possibly after a JSON round trip). */
export function parseSnapshot(input: unknown): BreakerSnapshot {
  let snapshot: BreakerSnapshot;
  try {
    snapshot = snapshotSchema.parse(input) as BreakerSnapshot;
  } catch (error) {
    if (!(error instanceof OptionFailure)) throw error;
    const field = error.path || '(snapshot)';
    throw new InvalidSnapshotError(
      field,
      `hydrate(): field "${field}" of the snapshot ${error.expected} (got ${describe(error.received)}). Pass what breaker.toJSON() returned.`,
    );
  }
  const window = snapshot.window;
  if (window?.type === 'count' && window.outcomes.length > window.size) {
    throw new InvalidSnapshotError(
      'window.outcomes',
      'hydrate(): field "window.outcomes" of the snapshot holds more outcomes than its size; pass what breaker.toJSON() returned.',
    );
  }
  if (snapshot.state === 'OPEN' && snapshot.openUntil === null) {
    throw new InvalidSnapshotError(
      'openUntil',
      'hydrate(): an OPEN snapshot needs openUntil; pass what breaker.toJSON() returned.',
    );
  }
  return snapshot;
}
