import { type Infer, o, systemClock } from '@ballast/kernel';
import { finite, invalidOption, parseOptions } from './validate.ts';

/** How the breaker decides that a dependency is failing. */
export type WindowType = 'count' | 'time' | 'consecutive';

/** The clock a breaker reads (it never schedules anything): milliseconds from `now()`. */
export interface BreakerClock {
  now(): number;
}

/** Options of {@link circuitBreaker} (and of every breaker of a registry). */
export interface BreakerOptions {
  /** Name used in errors, events and telemetry. Default `default` (a registry uses the key). */
  name?: string | undefined;
  /**
   * `count` (default): the last `windowSize` calls. `time`: the calls of the last `windowMs`,
   * in `windowBuckets` buckets. `consecutive`: trips after `consecutiveFailures` failures in a row.
   */
  windowType?: WindowType | undefined;
  /** Calls in a `count` window. Default 100. */
  windowSize?: number | undefined;
  /** Length of a `time` window in milliseconds. Default 60 000. */
  windowMs?: number | undefined;
  /** Buckets of a `time` window (its resolution). Default 10. */
  windowBuckets?: number | undefined;
  /** Failures in a row that trip a `consecutive` breaker. Default 5. */
  consecutiveFailures?: number | undefined;
  /** Calls the window must hold before a rate can trip the breaker. Default `min(10, windowSize)`. */
  minimumCalls?: number | undefined;
  /** Trips when failed calls / calls ≥ this (0 < x ≤ 1). Default 0.5. */
  failureRateThreshold?: number | undefined;
  /** A call that takes longer than this many milliseconds is slow, whether it succeeds or not. Default: off. */
  slowCallDurationMs?: number | undefined;
  /** Trips when slow calls / calls ≥ this (0 < x ≤ 1). Default 1. */
  slowCallRateThreshold?: number | undefined;
  /**
   * How long the breaker stays OPEN, in milliseconds: a number, or a function of how many times it
   * has opened since it last closed (1, 2, 3, …) for a backoff. Default 30 000.
   */
  openMs?: number | ((openedCount: number) => number) | undefined;
  /** Trial calls admitted in HALF_OPEN; their outcome closes or reopens the breaker. Default 1. */
  halfOpenCalls?: number | undefined;
  /** Reopens the breaker when HALF_OPEN lasts longer than this (trials that hang). Default: no limit. */
  maxWaitInHalfOpenMs?: number | undefined;
  /** Errors that count as failures. Default: every error. Others (not ignored) count as successes. */
  recordError?: ((error: unknown) => boolean) | undefined;
  /** Errors that count neither as success nor as failure (checked first). Default: none. */
  ignoreError?: ((error: unknown) => boolean) | undefined;
  /** Results that count as failures although the work did not throw (e.g. a 503 response). Default: none. */
  isFailureResult?: ((result: unknown) => boolean) | undefined;
  /**
   * Count a call that failed because the caller gave up like any other error. Default `false`:
   * a call whose error is an `ABORTED` error, or whose `signal` (the caller's, or an outer
   * policy's such as a `timeout` in front of the breaker) is aborted when it fails, is ignored —
   * neither success nor failure. A `timeout` placed inside the breaker still counts.
   */
  recordAborts?: boolean | undefined;
  /** Time source, `{ now(): number }` in milliseconds. Default: `Date.now`. */
  clock?: BreakerClock | undefined;
}

/** Every option resolved to a value; one frozen object shared by all breakers of a registry. */
export interface ResolvedBreakerOptions {
  readonly name: string;
  readonly windowType: WindowType;
  readonly windowSize: number;
  readonly windowMs: number;
  readonly windowBuckets: number;
  readonly consecutiveFailures: number;
  readonly minimumCalls: number;
  readonly failureRateThreshold: number;
  /** `Infinity` when slow calls are not tracked. */
  readonly slowCallDurationMs: number;
  /** True when `slowCallDurationMs` was given (every call then reads the clock twice). */
  readonly tracksSlowCalls: boolean;
  /**
   * True when a call's outcome goes through a clock read or a predicate: the breaker then chains
   * its booking before the caller's promise instead of observing the work's promise.
   */
  readonly chained: boolean;
  readonly slowCallRateThreshold: number;
  readonly openMs: number | ((openedCount: number) => number);
  readonly halfOpenCalls: number;
  /** `Infinity` when there is no limit. */
  readonly maxWaitInHalfOpenMs: number;
  readonly recordError: ((error: unknown) => boolean) | undefined;
  readonly ignoreError: ((error: unknown) => boolean) | undefined;
  readonly isFailureResult: ((result: unknown) => boolean) | undefined;
  readonly recordAborts: boolean;
  readonly clock: BreakerClock;
}

const rate = o
  .number({ gt: 0 })
  .refine((value) => value <= 1, 'must be ≤ 1 (a fraction, not a percentage)');
const positiveInt = (max?: number) => o.integer({ min: 1, max });
const predicate = o.fn<(value: unknown) => boolean>();

/** Schema of {@link BreakerOptions}: shape and ranges (cross-option rules are in `crossCheck`). */
const breakerOptionsSchema = o.object({
  name: o.string({ minLength: 1, maxLength: 256 }).optional(),
  windowType: o.oneOf(['count', 'time', 'consecutive']).optional(),
  windowSize: positiveInt(10_000_000).optional(),
  windowMs: positiveInt().optional(),
  windowBuckets: positiveInt(10_000).optional(),
  consecutiveFailures: positiveInt().optional(),
  minimumCalls: positiveInt().optional(),
  failureRateThreshold: rate.optional(),
  slowCallDurationMs: finite({ gt: 0 }).optional(),
  slowCallRateThreshold: rate.optional(),
  openMs: o.union(finite({ min: 0 }), o.fn<(openedCount: number) => number>()).optional(),
  halfOpenCalls: positiveInt(1_000_000).optional(),
  maxWaitInHalfOpenMs: finite({ gt: 0 }).optional(),
  recordError: predicate.optional(),
  ignoreError: predicate.optional(),
  isFailureResult: predicate.optional(),
  recordAborts: o.boolean().optional(),
  clock: o
    .custom<BreakerClock>(
      (value) =>
        typeof value === 'object' &&
        value !== null &&
        typeof (value as { now?: unknown }).now === 'function',
      'an object with a now() method returning milliseconds',
    )
    .optional(),
});

type ParsedBreakerOptions = Infer<typeof breakerOptionsSchema>;

/** Options that belong to one window type: given with another, they are almost always a mistake. */
const BELONGS: Readonly<Record<string, WindowType>> = {
  windowSize: 'count',
  windowMs: 'time',
  windowBuckets: 'time',
  consecutiveFailures: 'consecutive',
};

/** The rules between options; the first broken one as `[option, rule]`. */
function crossCheck(o: ParsedBreakerOptions): [keyof ParsedBreakerOptions, string] | undefined {
  const type = o.windowType ?? 'count';
  for (const [option, owner] of Object.entries(BELONGS)) {
    if (o[option as keyof ParsedBreakerOptions] !== undefined && owner !== type) {
      return [
        option as keyof ParsedBreakerOptions,
        `applies to windowType "${owner}" only (windowType is "${type}")`,
      ];
    }
  }
  if (type === 'consecutive' && o.minimumCalls !== undefined)
    return ['minimumCalls', 'does not apply to windowType "consecutive" (use consecutiveFailures)'];
  if (type === 'count' && o.minimumCalls !== undefined && o.minimumCalls > (o.windowSize ?? 100)) {
    return [
      'minimumCalls',
      `must be ≤ windowSize (${o.windowSize ?? 100}), or the breaker could never trip`,
    ];
  }
  if (type === 'time' && (o.windowMs ?? 60_000) < (o.windowBuckets ?? 10))
    return [
      'windowBuckets',
      `must be ≤ windowMs (${o.windowMs ?? 60_000}): a bucket spans at least 1 ms`,
    ];
  if (o.slowCallRateThreshold !== undefined && o.slowCallDurationMs === undefined)
    return ['slowCallRateThreshold', 'needs slowCallDurationMs (what counts as slow)'];
  return undefined;
}

/**
 * Validates `input` once and resolves every default. The result is frozen and may be shared by
 * any number of breakers (a registry validates once for all its keys).
 */
export function resolveBreakerOptions(
  input: BreakerOptions | undefined,
  factory = 'circuitBreaker()',
): ResolvedBreakerOptions {
  const o = parseOptions(breakerOptionsSchema, input, factory);
  const broken = crossCheck(o);
  if (broken !== undefined) throw invalidOption(factory, broken[0], o[broken[0]], broken[1]);
  const windowSize = o.windowSize ?? 100;
  const resolved: ResolvedBreakerOptions = Object.freeze({
    name: o.name ?? 'default',
    windowType: o.windowType ?? 'count',
    windowSize,
    windowMs: o.windowMs ?? 60_000,
    windowBuckets: o.windowBuckets ?? 10,
    consecutiveFailures: o.consecutiveFailures ?? 5,
    minimumCalls: o.minimumCalls ?? Math.min(10, windowSize),
    failureRateThreshold: o.failureRateThreshold ?? 0.5,
    slowCallDurationMs: o.slowCallDurationMs ?? Number.POSITIVE_INFINITY,
    tracksSlowCalls: o.slowCallDurationMs !== undefined,
    chained:
      o.slowCallDurationMs !== undefined ||
      o.recordError !== undefined ||
      o.ignoreError !== undefined ||
      o.isFailureResult !== undefined,
    slowCallRateThreshold: o.slowCallRateThreshold ?? 1,
    openMs: o.openMs ?? 30_000,
    halfOpenCalls: o.halfOpenCalls ?? 1,
    maxWaitInHalfOpenMs: o.maxWaitInHalfOpenMs ?? Number.POSITIVE_INFINITY,
    recordError: o.recordError,
    ignoreError: o.ignoreError,
    isFailureResult: o.isFailureResult,
    recordAborts: o.recordAborts ?? false,
    clock: o.clock ?? systemClock,
  });
  resolvedSet.add(resolved);
  return resolved;
}

// Options objects this module resolved: a breaker given one skips validation (registries).
const resolvedSet = new WeakSet<object>();

/** True for an object returned by {@link resolveBreakerOptions}. */
export function isResolvedBreakerOptions(value: unknown): value is ResolvedBreakerOptions {
  return typeof value === 'object' && value !== null && resolvedSet.has(value);
}
