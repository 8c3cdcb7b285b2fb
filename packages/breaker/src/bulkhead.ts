import { type Clock, o, systemClock } from '@ballast/kernel';
import {
  type AbortSource,
  abortError,
  callError,
  contextFor,
  sourceOf,
  subscribe,
} from './abort.ts';
import { AbortedError, BulkheadFullError, PolicyClosedError } from './errors.ts';
import type { ExecuteOptions, Policy, Work } from './policy.ts';
import { clockSchema, finite, parseOptions } from './validate.ts';

/** Options of {@link bulkhead}. */
export interface BulkheadOptions {
  /** Calls allowed to run at once (≥ 1). */
  maxConcurrent: number;
  /** Calls allowed to wait for a slot; more are refused with `BulkheadFullError`. Default `0`. */
  maxQueue?: number | undefined;
  /** Longest wait in the queue, in milliseconds; then `BulkheadFullError`. Default: no limit. */
  queueTimeoutMs?: number | undefined;
  /** Time source of `queueTimeoutMs`. Default: the system clock (its timers keep the process alive while you await them). */
  clock?: Clock | undefined;
}

const bulkheadSchema = o.object({
  maxConcurrent: o.integer({ min: 1 }),
  maxQueue: o.integer({ min: 0 }).default(0),
  queueTimeoutMs: finite({ gt: 0 }).optional(),
  clock: clockSchema.optional(),
});

/** A caller waiting for a slot. */
interface Waiter {
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
  timer: unknown;
  unsubscribe: (() => void) | undefined;
}

/**
 * A policy that caps concurrency: at most `maxConcurrent` calls run, up to `maxQueue` wait in
 * FIFO order (each at most `queueTimeoutMs`), the rest are refused at once with
 * `BulkheadFullError` (code `BULKHEAD_FULL`). A caller whose signal aborts leaves the queue.
 */
export class BulkheadPolicy implements Policy {
  /** Calls allowed to run at once. */
  readonly maxConcurrent: number;
  /** Calls allowed to wait. */
  readonly maxQueue: number;
  readonly #queueTimeoutMs: number | undefined;
  readonly #clock: Clock;
  readonly #queue = new Set<Waiter>();
  #running = 0;
  #closed = false;

  constructor(options: BulkheadOptions) {
    const parsed = parseOptions(bulkheadSchema, options, 'bulkhead()');
    this.maxConcurrent = parsed.maxConcurrent;
    this.maxQueue = parsed.maxQueue;
    this.#queueTimeoutMs = parsed.queueTimeoutMs;
    this.#clock = parsed.clock ?? systemClock;
  }

  /** Calls running now. */
  get running(): number {
    return this.#running;
  }

  /** Calls waiting for a slot now. */
  get queued(): number {
    return this.#queue.size;
  }

  /** Runs `fn` in a slot, waiting in the queue if needed; refused with `PolicyClosedError` once closed. */
  async execute<T>(fn: Work<T>, options?: ExecuteOptions): Promise<T> {
    if (this.#closed) throw new PolicyClosedError('bulkhead');
    const invalid = callError(fn, options);
    if (invalid !== undefined) throw invalid;
    const source = sourceOf(options);
    if (source?.aborted) throw abortError(source);
    if (this.#running < this.maxConcurrent) this.#running++;
    else await this.#enqueue(source);
    try {
      return await fn(contextFor(options));
    } finally {
      this.#release();
    }
  }

  /**
   * Closes the bulkhead: every waiting caller is rejected with `AbortedError` and its timer
   * cleared; running calls finish normally; later calls are refused with `PolicyClosedError`
   * (code `POLICY_CLOSED`). Idempotent.
   */
  close(): void {
    this.#closed = true;
    const waiters = [...this.#queue];
    this.#queue.clear();
    for (const waiter of waiters) {
      this.#settle(waiter);
      waiter.reject(new AbortedError(new Error('The bulkhead was closed.')));
    }
  }

  /** Same as {@link close}. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.close();
  }

  #enqueue(source: AbortSource): Promise<void> {
    if (this.#queue.size >= this.maxQueue) {
      return Promise.reject(new BulkheadFullError(this.maxConcurrent, this.maxQueue, 'full'));
    }
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = { resolve, reject, timer: undefined, unsubscribe: undefined };
      const leave = (error: unknown) => {
        this.#queue.delete(waiter);
        this.#settle(waiter);
        reject(error);
      };
      if (this.#queueTimeoutMs !== undefined) {
        waiter.timer = this.#clock.setTimeout(
          () => leave(new BulkheadFullError(this.maxConcurrent, this.maxQueue, 'queue-timeout')),
          this.#queueTimeoutMs,
        );
      }
      if (source !== undefined)
        waiter.unsubscribe = subscribe(source, () => leave(abortError(source)));
      this.#queue.add(waiter);
    });
  }

  #settle(waiter: Waiter): void {
    if (waiter.timer !== undefined) this.#clock.clearTimeout(waiter.timer);
    waiter.unsubscribe?.();
  }

  #release(): void {
    const next = this.#queue.values().next();
    if (next.done) {
      this.#running--;
      return;
    }
    // Hand the slot straight to the oldest waiter.
    const waiter = next.value;
    this.#queue.delete(waiter);
    this.#settle(waiter);
    waiter.resolve();
  }
}

/**
 * Creates a {@link BulkheadPolicy}: `bulkhead({ maxConcurrent: 10, maxQueue: 100 })`.
 * @throws InvalidOptionsError (code `INVALID_OPTIONS`) naming the bad option.
 */
export function bulkhead(options: BulkheadOptions): BulkheadPolicy {
  return new BulkheadPolicy(options);
}
