import { randomUUID } from 'node:crypto';
import type { Span } from '@opentelemetry/api';
import { type Clock, sleep, systemClock } from './clock.ts';
import { abortError, IdempotencyError, isIdempotencyError } from './errors.ts';
import type { IdempotencyEvent } from './events.ts';
import type { EngineOptions } from './options.ts';
import type { IdempotencyStore } from './store.ts';
import { Telemetry } from './telemetry.ts';

/** What the engine decided for one request or call. */
export type Decision =
  | { readonly outcome: 'execute'; readonly lease: Lease }
  | { readonly outcome: 'replay'; readonly payload: Uint8Array }
  | { readonly outcome: 'conflict' }
  | { readonly outcome: 'mismatch' }
  /** The store failed and `failOpen` is set: run without idempotency. */
  | { readonly outcome: 'fail-open' };

/** Arguments of {@link Engine.begin}. */
export interface BeginInput {
  /** The key as the client sent it (for events). */
  readonly key: string;
  /** The scoped, hashed store key. */
  readonly storeKey: string;
  readonly fingerprint: string;
  readonly span?: Span;
  readonly signal?: AbortSignal;
}

/**
 * The lock one execution holds. It is extended every third of `lockTtlMs` until `complete` or
 * `release`; `signal` aborts when the lock is lost or released early.
 */
export class Lease {
  readonly #engine: Engine;
  readonly #input: BeginInput;
  readonly #owner = randomUUID();
  #controller: AbortController | undefined;
  #timer: unknown;
  #settled = false;

  constructor(engine: Engine, input: BeginInput) {
    this.#engine = engine;
    this.#input = input;
  }

  /** The fencing token this lease claimed with. */
  get owner(): string {
    return this.#owner;
  }

  /** Aborted when the lease ends early (lock lost, connection lost, released). */
  get signal(): AbortSignal {
    this.#controller ??= new AbortController();
    return this.#controller.signal;
  }

  /** Starts extending the lock (called by the engine once the claim succeeded). */
  start(): void {
    this.#schedule();
  }

  /** Stores the result for `retentionMs`, unless the lock was lost meanwhile. */
  async complete(payload: Uint8Array): Promise<boolean> {
    if (!this.#finish()) return false;
    const { store, options } = this.#engine;
    try {
      const stored = await store.complete({
        key: this.#input.storeKey,
        owner: this.#owner,
        fingerprint: this.#input.fingerprint,
        payload,
        retentionMs: options.retentionMs,
      });
      this.#engine.emit(
        this.#input,
        stored ? { type: 'executed' } : { type: 'not-stored', reason: 'lock-lost' },
      );
      return stored;
    } catch (error) {
      this.#engine.emit(this.#input, { type: 'store-error', error });
      return false;
    }
  }

  /**
   * The client went away: aborts `signal` (so the work may stop early) but keeps the lock, still
   * extended, until `release` is called when the work has actually ended. A duplicate meanwhile
   * gets a conflict, so two executions never overlap.
   */
  abandon(reason: string): void {
    if (this.#settled) return;
    this.#engine.emit(this.#input, { type: 'abandoned', reason });
    this.#controller?.abort(
      new IdempotencyError(
        'ABORTED',
        `The client went away (${reason}); the result will not be stored.`,
      ),
    );
  }

  /** Releases the key without storing, so that a retry runs again; `reason` goes to the event. */
  async release(reason: string): Promise<void> {
    if (!this.#finish()) return;
    this.#controller?.abort(
      new IdempotencyError('ABORTED', `The idempotency lease was released: ${reason}.`),
    );
    this.#engine.emit(this.#input, { type: 'not-stored', reason });
    try {
      await this.#engine.store.release({
        key: this.#input.storeKey,
        owner: this.#owner,
        fingerprint: this.#input.fingerprint,
      });
    } catch (error) {
      this.#engine.emit(this.#input, { type: 'store-error', error });
    }
  }

  #finish(): boolean {
    if (this.#settled) return false;
    this.#settled = true;
    this.#engine.clock.clearTimeout(this.#timer);
    return true;
  }

  #schedule(): void {
    const { lockTtlMs } = this.#engine.options;
    this.#timer = this.#engine.clock.setTimeout(
      () => void this.#extend(),
      Math.max(1, Math.floor(lockTtlMs / 3)),
    );
  }

  async #extend(): Promise<void> {
    if (this.#settled) return;
    let held: boolean;
    try {
      held = await this.#engine.store.extend({
        key: this.#input.storeKey,
        owner: this.#owner,
        fingerprint: this.#input.fingerprint,
        lockTtlMs: this.#engine.options.lockTtlMs,
      });
    } catch (error) {
      // A failed extension is retried at the next tick; the lock may still be valid.
      this.#engine.emit(this.#input, { type: 'store-error', error });
      held = true;
    }
    if (this.#settled) return;
    if (held) return this.#schedule();
    this.#engine.emit(this.#input, { type: 'lock-lost' });
    this.#controller?.abort(
      new IdempotencyError('ABORTED', 'The idempotency lock was lost (it expired).'),
    );
  }
}

/** The framework-independent core: claim, wait, replay, lock extension, telemetry. */
export class Engine {
  readonly options: EngineOptions;
  readonly store: IdempotencyStore;
  readonly clock: Clock;
  readonly telemetry: Telemetry;

  constructor(options: EngineOptions) {
    this.options = options;
    this.store = options.store;
    this.clock = options.clock ?? systemClock;
    this.telemetry = new Telemetry(options.onEvent);
  }

  emit(input: { key?: string; span?: Span | undefined }, event: IdempotencyEvent): void {
    this.telemetry.emit(input.span, { key: input.key, ...event });
  }

  /**
   * Claims the key. Answers `execute` with a started {@link Lease}, `replay` with the stored
   * payload, `conflict`, `mismatch`, or `fail-open`; a store failure without `failOpen` throws
   * `STORE_UNAVAILABLE`.
   */
  async begin(input: BeginInput): Promise<Decision> {
    const { waitForInFlightMs, pollIntervalMs } = this.options;
    const deadline = this.clock.now() + waitForInFlightMs;
    for (;;) {
      if (input.signal?.aborted) throw abortError(input.signal);
      const lease = new Lease(this, input);
      let result: Awaited<ReturnType<IdempotencyStore['claim']>>;
      try {
        result = await this.store.claim({
          key: input.storeKey,
          fingerprint: input.fingerprint,
          owner: lease.owner,
          lockTtlMs: this.options.lockTtlMs,
          signal: input.signal,
        });
      } catch (error) {
        this.emit(input, { type: 'store-error', error });
        if (this.options.failOpen) {
          this.emit(input, { type: 'fail-open' });
          return { outcome: 'fail-open' };
        }
        throw isIdempotencyError(error)
          ? error
          : new IdempotencyError(
              'STORE_UNAVAILABLE',
              `The idempotency store failed: ${String(error)}.`,
              { cause: error },
            );
      }
      switch (result.state) {
        case 'claimed':
          lease.start();
          return { outcome: 'execute', lease };
        case 'completed':
          this.emit(input, { type: 'replayed' });
          return { outcome: 'replay', payload: result.payload };
        case 'mismatch':
          this.emit(input, { type: 'mismatch' });
          return { outcome: 'mismatch' };
      }
      const left = deadline - this.clock.now();
      if (left <= 0) {
        this.emit(input, {
          type: 'conflict',
          reason: waitForInFlightMs > 0 ? 'wait-timeout' : 'in-progress',
        });
        return { outcome: 'conflict' };
      }
      try {
        await sleep(this.clock, Math.min(pollIntervalMs, left), input.signal);
      } catch {
        throw abortError(input.signal!);
      }
    }
  }
}
