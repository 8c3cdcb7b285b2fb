import { attempt, type Clock, o, systemClock } from '@ballast/kernel';
import { abortError, callError, Scope, sourceOf, subscribe } from './abort.ts';
import { AbortedError } from './errors.ts';
import type { ExecuteOptions, Policy, Work } from './policy.ts';
import { clockSchema, finite, invalidOption, parseOptions } from './validate.ts';

/** Options of {@link hedge}. */
export interface HedgeOptions {
  /**
   * Delay before each extra attempt, in milliseconds. With `quantile`, the delay used until
   * `minSamples` latencies have been observed.
   */
  delayMs: number;
  /** Use this quantile of observed latency as the delay (e.g. `0.95` = p95). Default: fixed delay. */
  quantile?: number | undefined;
  /** How many recent successful latencies the quantile is computed over. Default `100`. */
  windowSize?: number | undefined;
  /** Latencies needed before the quantile replaces `delayMs`. Default `20`. */
  minSamples?: number | undefined;
  /** Extra attempts at most (the first is not counted). Default `1`. */
  maxHedgedAttempts?: number | undefined;
  /**
   * Abort the attempts that lost once one succeeded. Default `true`. `false` lets them finish
   * (their results are dropped): an attempt that reaches a slow instance then still reports how
   * slow it was to whatever measures latency underneath — a latency-aware balancer such as
   * `p2cPeakEwma` learns that instance's real latency instead of the time it was abandoned at, and
   * stops picking it. For cheap idempotent work only (each loser runs to its end). A caller's
   * abort before the call settled, or every attempt failing, still aborts them all.
   */
  abortLosers?: boolean | undefined;
  /** Time source of the delays and latencies. Default: the system clock (its timers keep the process alive while you await them). */
  clock?: Clock | undefined;
}

const hedgeSchema = o.object({
  delayMs: finite({ min: 0 }),
  quantile: o
    .number({ gt: 0 })
    .refine((q) => q < 1, 'must be < 1')
    .optional(),
  windowSize: o.integer({ min: 1, max: 100_000 }).default(100),
  minSamples: o.integer({ min: 1 }).default(20),
  maxHedgedAttempts: o.integer({ min: 1, max: 10 }).default(1),
  abortLosers: o.boolean().default(true),
  clock: clockSchema.optional(),
});

/**
 * A policy that fights tail latency: when an attempt has not answered after the delay (fixed,
 * or a quantile of recent latency), it starts another one, up to `maxHedgedAttempts` extra. The
 * first success wins and the other attempts' signals abort; a failed attempt starts the next at
 * once. Attempts see `attempt` = 1, 2, …. Only hedge idempotent work.
 */
export class HedgePolicy implements Policy {
  /** Extra attempts at most. */
  readonly maxHedgedAttempts: number;
  readonly #abortLosers: boolean;
  readonly #fixedDelayMs: number;
  readonly #quantile: number | undefined;
  readonly #minSamples: number;
  readonly #clock: Clock;
  readonly #latencies: Float64Array;
  #count = 0;
  #next = 0;
  #sinceComputed = 0;
  #quantileDelay: number | undefined = undefined;

  constructor(options: HedgeOptions) {
    const parsed = parseOptions(hedgeSchema, options, 'hedge()');
    if (parsed.minSamples > parsed.windowSize) {
      throw invalidOption(
        'hedge()',
        'minSamples',
        parsed.minSamples,
        `must not exceed windowSize (${parsed.windowSize})`,
      );
    }
    this.maxHedgedAttempts = parsed.maxHedgedAttempts;
    this.#abortLosers = parsed.abortLosers;
    this.#fixedDelayMs = parsed.delayMs;
    this.#quantile = parsed.quantile;
    this.#minSamples = parsed.minSamples;
    this.#clock = parsed.clock ?? systemClock;
    this.#latencies = new Float64Array(parsed.quantile === undefined ? 0 : parsed.windowSize);
  }

  /** The delay the next call will wait before hedging, in milliseconds. */
  get delayMs(): number {
    if (this.#quantile === undefined || this.#count < this.#minSamples) return this.#fixedDelayMs;
    if (this.#quantileDelay === undefined || this.#sinceComputed * 10 >= this.#latencies.length) {
      const sorted = this.#latencies.slice(0, this.#count).sort();
      this.#quantileDelay =
        sorted[Math.min(this.#count - 1, Math.floor(this.#quantile * this.#count))]!;
      this.#sinceComputed = 0;
    }
    return this.#quantileDelay;
  }

  /** Runs `fn`, hedging it as configured; resolves with the first success. */
  execute<T>(fn: Work<T>, options?: ExecuteOptions): Promise<T> {
    const invalid = callError(fn, options);
    if (invalid !== undefined) return Promise.reject(invalid);
    const source = sourceOf(options);
    if (source?.aborted) return Promise.reject(abortError(source));
    const clock = this.#clock;
    const delayMs = this.delayMs;
    const maxAttempts = this.maxHedgedAttempts + 1;
    return new Promise<T>((resolve, reject) => {
      const scopes: Scope[] = [];
      let failed = 0;
      let done = false;
      let timer: unknown;
      let unsubscribe: (() => void) | undefined;

      const settle = (winner: Scope | undefined, reason: unknown) => {
        done = true;
        if (timer !== undefined) clock.clearTimeout(timer);
        unsubscribe?.();
        const abortOthers = winner === undefined || this.#abortLosers;
        for (const scope of scopes) {
          if (scope !== winner && abortOthers) scope.abort(reason);
          scope.close();
        }
      };

      const launch = () => {
        timer = undefined;
        const scope = new Scope(source, scopes.length + 1);
        scopes.push(scope);
        const startedAt = clock.now();
        if (scopes.length < maxAttempts) timer = clock.setTimeout(launch, delayMs);
        attempt(fn, scope).then(
          (value) => {
            if (done) return;
            this.#record(clock.now() - startedAt);
            settle(scope, new AbortedError(new Error('Another hedged attempt succeeded first.')));
            resolve(value);
          },
          (error: unknown) => {
            if (done) return;
            failed++;
            if (failed === maxAttempts || (failed === scopes.length && timer === undefined)) {
              settle(undefined, error);
              reject(error);
            } else if (failed === scopes.length && timer !== undefined) {
              // Every started attempt failed: start the next one now instead of waiting.
              clock.clearTimeout(timer);
              launch();
            }
          },
        );
      };

      if (source !== undefined) {
        unsubscribe = subscribe(source, (reason) => {
          if (done) return;
          settle(undefined, reason);
          reject(abortError(source));
        });
      }
      launch();
    });
  }

  #record(latencyMs: number): void {
    if (this.#quantile === undefined) return;
    this.#latencies[this.#next] = latencyMs;
    this.#next = (this.#next + 1) % this.#latencies.length;
    if (this.#count < this.#latencies.length) this.#count++;
    this.#sinceComputed++;
  }
}

/**
 * Creates a {@link HedgePolicy}: `hedge({ delayMs: 50 })` or
 * `hedge({ delayMs: 100, quantile: 0.95 })`.
 * @throws InvalidOptionsError (code `INVALID_OPTIONS`) naming the bad option.
 */
export function hedge(options: HedgeOptions): HedgePolicy {
  return new HedgePolicy(options);
}
