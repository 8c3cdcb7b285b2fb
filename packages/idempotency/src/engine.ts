import {
  type Clock,
  type Listener,
  type Subscription,
  sleep,
  systemClock,
  unrefTimer,
} from '@ballast/kernel';
import {
  AbortedError,
  abortedBy,
  IdempotencyError,
  isIdempotencyError,
  StoreUnavailableError,
} from './errors.ts';
import type { IdempotencyEvent } from './events.ts';
import { nodeCrypto } from './fingerprint.ts';
import type { EngineOptions, IdempotencyEvents } from './options.ts';
import { type ClaimResult, COMPLETE_TEXT, completesText, type IdempotencyStore } from './store.ts';
import { Telemetry, type TelemetrySpan } from './telemetry.ts';

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
  /** The parsed key (for events). */
  readonly key: string;
  /** The scoped store key (see `storeKeyOf`). */
  readonly storeKey: string;
  readonly fingerprint: string;
  readonly span?: TelemetrySpan | undefined;
  readonly signal?: AbortSignal | undefined;
}

// The events of the usual outcomes, allocated once (emit() copies them only when telemetry is on).
const EXECUTED: IdempotencyEvent = Object.freeze({ type: 'executed' });
const REPLAYED: IdempotencyEvent = Object.freeze({ type: 'replayed' });
const LOCK_LOST: IdempotencyEvent = Object.freeze({ type: 'not-stored', reason: 'lock-lost' });

let processId: string | undefined;
let leaseCount = 0;

/**
 * A fencing token no other lease ever had: 96 random bits drawn once per process (so two
 * processes, or two runs of one, never share a prefix but with negligible probability) and a
 * counter that never repeats within the process. The same uniqueness as a UUID per lease, without
 * drawing randomness per request. Guarded by "fences a late completion from an owner whose lock
 * expired" and the two-instance duplicates test (test/redis.test.ts).
 */
function ownerToken(): string {
  processId ??= nodeCrypto().randomBytes(12).toString('base64url');
  return `${processId}.${(++leaseCount).toString(36)}`;
}

/**
 * The lock one execution holds, until `complete` or `release`. It is not extended by a timer of
 * its own: the engine's wheel extends the leases that have lived long enough (see {@link Engine}),
 * so work that ends well inside `lockTtlMs` costs no timer at all. `signal` aborts when the lock
 * is lost or the lease is released early.
 */
export class Lease {
  readonly #engine: Engine;
  readonly #input: BeginInput;
  /** The fencing token this lease claimed with (see {@link ownerToken}). */
  readonly owner: string = ownerToken();
  /** The wheel tick at which the lock's expiry was last set (claim or extension). */
  tick: number;
  #controller: AbortController | undefined;
  #settled = false;
  #extending = false;

  constructor(engine: Engine, input: BeginInput, tick: number) {
    this.#engine = engine;
    this.#input = input;
    this.tick = tick;
  }

  /** Aborted when the lease ends early (lock lost, connection lost, released). */
  get signal(): AbortSignal {
    this.#controller ??= new AbortController();
    return this.#controller.signal;
  }

  /**
   * Stores the result for `retentionMs`, unless the lock was lost meanwhile. A string payload
   * stands for its UTF-8 bytes: a store that takes text gets it as it is, any other the bytes.
   */
  async complete(payload: Uint8Array | string): Promise<boolean> {
    if (!this.#finish()) return false;
    const { store, options } = this.#engine;
    const { storeKey: key, fingerprint } = this.#input;
    const retentionMs = options.retentionMs;
    try {
      const stored =
        typeof payload !== 'string'
          ? await store.complete({ key, owner: this.owner, fingerprint, payload, retentionMs })
          : completesText(store)
            ? await store[COMPLETE_TEXT]({
                key,
                owner: this.owner,
                fingerprint,
                text: payload,
                retentionMs,
              })
            : await store.complete({
                key,
                owner: this.owner,
                fingerprint,
                payload: Buffer.from(payload),
                retentionMs,
              });
      this.#engine.emit(this.#input, stored ? EXECUTED : LOCK_LOST);
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
      new AbortedError(`The client went away (${reason}); the result will not be stored.`),
    );
  }

  /** Releases the key without storing, so that a retry runs again; `reason` goes to the event. */
  async release(reason: string): Promise<void> {
    if (!this.#finish()) return;
    this.#controller?.abort(new AbortedError(`The idempotency lease was released: ${reason}.`));
    this.#engine.emit(this.#input, { type: 'not-stored', reason });
    try {
      await this.#engine.store.release({
        key: this.#input.storeKey,
        owner: this.owner,
        fingerprint: this.#input.fingerprint,
      });
    } catch (error) {
      this.#engine.emit(this.#input, { type: 'store-error', error });
    }
  }

  #finish(): boolean {
    if (this.#settled) return false;
    this.#settled = true;
    this.#engine.untrack(this);
    return true;
  }

  /** Called by the wheel: pushes the lock's expiry to now + `lockTtlMs` if this owner holds it. */
  async extend(tick: number): Promise<void> {
    if (this.#settled || this.#extending) return;
    this.#extending = true;
    this.tick = tick;
    let held: boolean;
    try {
      held = await this.#engine.store.extend({
        key: this.#input.storeKey,
        owner: this.owner,
        fingerprint: this.#input.fingerprint,
        lockTtlMs: this.#engine.options.lockTtlMs,
      });
    } catch (error) {
      // A failed extension is retried at the next tick; the lock may still be valid.
      this.#engine.emit(this.#input, { type: 'store-error', error });
      held = true;
    } finally {
      this.#extending = false;
    }
    if (this.#settled || held) return;
    this.#engine.untrack(this);
    this.#engine.emit(this.#input, { type: 'lock-lost' });
    this.#controller?.abort(new AbortedError('The idempotency lock was lost (it expired).'));
  }
}

// Fast-path invariants of this file (change a line here only with these in mind):
//
// 1. No timer per request: lock extension is one wheel per engine (below); a lease that ends
//    before its second tick is never extended and arms nothing. Guarded by "arms no timer for a
//    call that ends before its lock needs extending" (test/idempotent.test.ts).
// 2. Extension always before expiry: a lease is extended once its lock was set two ticks ago or
//    more (ticks of lockTtlMs / 6), i.e. at most a third of lockTtlMs old. Guarded by "extends the
//    lock while a long call runs, and stops extending when it ends" and "reports a lost lock and
//    aborts the lease signal" (test/idempotent.test.ts), and the SIGKILL test (test/redis.test.ts).
// 3. An awaited wait (waitForInFlightMs) keeps the process alive; only the wheel is unref'd.
//    Guarded by "an awaited wait for an in-flight call keeps the process alive" (test/install.test.ts).

/**
 * The framework-independent core: claim, wait, replay, lock extension, telemetry.
 *
 * Lock extension is one wheel per engine, not a timer per lease: a single (unref'd) timer ticks
 * every sixth of `lockTtlMs` while leases are held, and extends each lease whose lock was last set
 * two ticks ago or more — at most a third of `lockTtlMs` old, so a lock is always extended well
 * before it expires. A lease that ends before its second tick is never extended and never armed a
 * timer; the wheel disarms itself at the first tick that finds no lease.
 */
export class Engine {
  readonly options: EngineOptions;
  readonly store: IdempotencyStore;
  readonly clock: Clock;
  readonly telemetry: Telemetry;
  readonly #leases = new Set<Lease>();
  readonly #tickMs: number;
  #tick = 0;
  #armed = false;

  constructor(options: EngineOptions) {
    this.options = options;
    this.store = options.store;
    this.clock = options.clock ?? systemClock;
    this.telemetry = new Telemetry();
    this.#tickMs = Math.max(1, Math.floor(options.lockTtlMs / 6));
  }

  /** Subscribes to this engine's events (see {@link IdempotencyEvents.onEvent}). */
  onEvent(listener: Listener<IdempotencyEvent>): Subscription {
    return this.telemetry.listeners.add(listener);
  }

  /**
   * Gives `target` (the middleware or function handed to the application) an `onEvent` method,
   * so that whoever holds it can subscribe to its events.
   */
  withEvents<T extends object>(target: T): T & IdempotencyEvents {
    const onEvent = (listener: Listener<IdempotencyEvent>) => this.onEvent(listener);
    return Object.assign(target, { onEvent });
  }

  emit(
    input: { key?: string | undefined; span?: TelemetrySpan | undefined },
    event: IdempotencyEvent,
  ): void {
    // Fast path: with no listener and no registered SDK the event goes nowhere, so the copy with
    // the key is not even built. Guarded by test/telemetry.test.ts (an SDK sees every event) and
    // the onEvent tests of test/idempotent.test.ts (a listener sees every event).
    if (!this.telemetry.active) return;
    this.telemetry.emit(input.span, input.key === undefined ? event : { key: input.key, ...event });
  }

  /** Stops extending `lease` (it completed, was released, or lost its lock). */
  untrack(lease: Lease): void {
    this.#leases.delete(lease);
  }

  #track(lease: Lease): void {
    this.#leases.add(lease);
    if (!this.#armed) this.#arm();
  }

  #arm(): void {
    this.#armed = true;
    unrefTimer(this.clock.setTimeout(this.#onTick, this.#tickMs));
  }

  readonly #onTick = (): void => {
    this.#armed = false;
    const tick = ++this.#tick;
    for (const lease of this.#leases) if (tick - lease.tick >= 2) void lease.extend(tick);
    if (this.#leases.size > 0) this.#arm();
  };

  /**
   * Claims the key. Answers `execute` with a tracked {@link Lease}, `replay` with the stored
   * payload, `conflict`, `mismatch`, or `fail-open`; a store failure without `failOpen` throws
   * `STORE_UNAVAILABLE`.
   */
  async begin(input: BeginInput): Promise<Decision> {
    const { waitForInFlightMs, pollIntervalMs } = this.options;
    const deadline = waitForInFlightMs > 0 ? this.clock.now() + waitForInFlightMs : 0;
    for (;;) {
      if (input.signal?.aborted) throw abortedBy(input.signal);
      const lease = new Lease(this, input, this.#tick);
      let result: ClaimResult;
      try {
        result = await this.store.claim({
          key: input.storeKey,
          fingerprint: input.fingerprint,
          owner: lease.owner,
          lockTtlMs: this.options.lockTtlMs,
          signal: input.signal,
        });
      } catch (error) {
        if (isIdempotencyError(error, 'ABORTED')) throw error;
        this.emit(input, { type: 'store-error', error });
        if (this.options.failOpen) {
          this.emit(input, { type: 'fail-open' });
          return { outcome: 'fail-open' };
        }
        throw error instanceof IdempotencyError
          ? error
          : new StoreUnavailableError(`The idempotency store failed: ${String(error)}.`, {
              cause: error,
            });
      }
      switch (result.state) {
        case 'claimed':
          lease.tick = this.#tick;
          this.#track(lease);
          return { outcome: 'execute', lease };
        case 'completed':
          this.emit(input, REPLAYED);
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
        // Not unref'd: the caller awaits this wait, so it keeps the process alive.
        await sleep(Math.min(pollIntervalMs, left), { clock: this.clock, signal: input.signal });
      } catch {
        throw abortedBy(input.signal!);
      }
    }
  }
}
