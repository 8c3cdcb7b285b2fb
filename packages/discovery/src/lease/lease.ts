import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import {
  type Clock,
  ListenerList,
  o,
  parseOptions,
  type Subscription,
  sleep,
  throwIfAborted,
  unrefTimer,
} from '@ballast/kernel';
import {
  BackendUnavailableError,
  InvalidOptionsError,
  LeaseLostError,
  type LeaseLostReason,
  LeaseTimeoutError,
} from '../errors.ts';
import type { LeaseBackend } from './backend.ts';

/**
 * The default clock of leases: `performance.now()` (monotonic: a wall-clock step by NTP or by hand
 * neither shortens nor lengthens a lease) and Node timers.
 */
export const monotonicClock: Clock = {
  now: () => performance.now(),
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/** Options of {@link acquireLease}. */
export interface AcquireLeaseOptions {
  /**
   * How long the lease lasts without renewal, in ms (the backend drops it after this long if the
   * process dies). It is renewed every ~`ttlMs / 3`. Default `10000`.
   */
  ttlMs?: number | undefined;
  /**
   * How long to wait for another holder to release or lose the lease, in ms; after that
   * `acquireLease()` rejects with `LEASE_TIMEOUT`. `0` tries once. Default `0`.
   */
  waitMs?: number | undefined;
  /**
   * How long before the end of the lease its `signal` aborts when no renewal has succeeded, in ms:
   * time for the work under the lease to stop, plus the drift between this clock and the
   * backend's. Must be less than `ttlMs / 2`. Default `ttlMs / 10` (at least 1).
   */
  safetyMarginMs?: number | undefined;
  /**
   * Renew automatically every ~`ttlMs / 3` (with jitter) until `release()`. Default `true`; with
   * `false`, call `renew()` yourself before `expiresAt − safetyMarginMs`.
   */
  autoRenew?: boolean | undefined;
  /** Who holds the lease, as `campaign().leader()` reports it. Default `<hostname>:<pid>:<random>`. */
  owner?: string | undefined;
  /** Stops waiting: `acquireLease()` rejects with the signal's reason. */
  signal?: AbortSignal | undefined;
  /**
   * Time source of all validity math and timers. Default {@link monotonicClock}
   * (`performance.now()`); tests pass a manual clock.
   */
  clock?: Clock | undefined;
}

/** A held lease. Stop the work it protects when `signal` aborts. */
export interface Lease extends AsyncDisposable {
  /** The lease's key. */
  readonly key: string;
  /**
   * The fencing token: greater than the token of every earlier holder of this key. Pass it with
   * every write to the protected resource, which refuses a lower one (see `fenced()`).
   */
  readonly token: number;
  /**
   * When the lease ends unless renewed, in the lease clock's time (`performance.now()` by default,
   * not the epoch): the send time of the last successful acquire or renewal plus `ttlMs`.
   */
  readonly expiresAt: number;
  /**
   * Aborts when the lease is lost or released, with a `LEASE_LOST` error as its reason — at the
   * latest at `expiresAt − safetyMarginMs` when no renewal has succeeded, i.e. before the backend
   * could hand the key to someone else.
   */
  readonly signal: AbortSignal;
  /**
   * Extends the lease by `ttlMs` now (compare-and-set: only while this token holds it). Rejects
   * with `LEASE_LOST` when the lease is gone, `BACKEND_UNAVAILABLE` when the backend did not
   * answer (the lease is then still held until its signal says otherwise).
   */
  renew(): Promise<void>;
  /**
   * Gives the lease up (compare-and-delete: never deletes another holder's key) and aborts
   * `signal` with reason `released`. Idempotent; never rejects. Resolves to `true` when the
   * backend deleted the hold (`false`: it had already expired, or the backend was unreachable —
   * it then expires by itself after `ttlMs`).
   */
  release(): Promise<boolean>;
  /** Calls `listener` once, with the reason, when the lease is lost or released. */
  onLost(listener: (reason: LeaseLostReason) => void): Subscription;
}

const schema = o.object({
  ttlMs: o.integer({ min: 10, max: 24 * 3_600_000 }).default(10_000),
  waitMs: o.integer({ min: 0 }).default(0),
  safetyMarginMs: o.integer({ min: 1 }).optional(),
  autoRenew: o.boolean().default(true),
  owner: o.string({ minLength: 1, maxLength: 200 }).optional(),
  signal: o.signal().optional(),
  clock: o.clock<Clock>().default(monotonicClock),
});

type Options = ReturnType<typeof schema.parse>;

/** @internal Parsed, complete lease settings. */
export interface LeaseSettings {
  readonly ttlMs: number;
  readonly safetyMarginMs: number;
  readonly autoRenew: boolean;
  readonly owner: string;
  readonly clock: Clock;
}

let ownerPrefix: string | undefined;
let ownerCount = 0;

/**
 * `<hostname>:<pid>:<random>`, unique per lease of this process: a random 32-bit start drawn once
 * per process, plus a counter (no system call and no random draw per lease).
 */
function defaultOwner(): string {
  if (ownerPrefix === undefined) {
    ownerPrefix = `${hostname()}:${process.pid}:`;
    ownerCount = randomBytes(4).readUInt32BE(0);
  }
  ownerCount = (ownerCount + 1) % 0x1_0000_0000;
  return `${ownerPrefix}${ownerCount.toString(16).padStart(8, '0')}`;
}

/**
 * The `LEASE_LOST` error a lease's signal aborts with. Built without a stack trace: it is made by
 * the lease's own machinery (a timer, a renewal's answer, `release()`), whose frames tell the
 * reader nothing the message does not — and capturing them was most of the CPU of a release.
 */
function lostError(key: string, token: number, reason: LeaseLostReason): LeaseLostError {
  const limit = Error.stackTraceLimit;
  const set = (value: number): void => {
    try {
      Error.stackTraceLimit = value;
    } catch {
      // A frozen Error (a hardened realm): the error then has its stack, nothing else changes.
    }
  };
  set(0);
  try {
    return new LeaseLostError(key, token, reason);
  } finally {
    set(limit);
  }
}

/** @internal */
export function leaseSettings(options: Options, factory: string): LeaseSettings & Options {
  const safetyMarginMs = options.safetyMarginMs ?? Math.max(1, Math.round(options.ttlMs / 10));
  if (safetyMarginMs * 2 >= options.ttlMs) {
    throw new InvalidOptionsError({
      option: 'safetyMarginMs',
      received: safetyMarginMs,
      message: `${factory}: safetyMarginMs must be less than ttlMs / 2 (${options.ttlMs / 2}); got ${safetyMarginMs}. Lower it or raise ttlMs.`,
    });
  }
  return {
    ...options,
    safetyMarginMs,
    owner: options.owner ?? defaultOwner(),
  };
}

/** @internal */
export function parseLeaseOptions(
  options: AcquireLeaseOptions | undefined,
  factory: string,
): LeaseSettings & Options {
  return leaseSettings(
    parseOptions(schema, options ?? {}, { factory, error: InvalidOptionsError }),
    factory,
  );
}

function requireBackend(backend: unknown, factory: string): asserts backend is LeaseBackend {
  const ok =
    typeof backend === 'object' &&
    backend !== null &&
    ['acquire', 'renew', 'release', 'holder'].every(
      (name) => typeof (backend as Record<string, unknown>)[name] === 'function',
    );
  if (!ok) {
    throw new InvalidOptionsError({
      option: 'backend',
      received: backend,
      message: `${factory}: backend must be a lease backend such as redisLeaseBackend({ client }).`,
    });
  }
}

function requireKey(key: unknown, factory: string): asserts key is string {
  if (typeof key !== 'string' || key.length === 0 || key.length > 500) {
    throw new InvalidOptionsError({
      option: 'key',
      received: key,
      message: `${factory}: key must be a non-empty string of at most 500 characters.`,
    });
  }
}

const jitter = (ms: number): number => ms * (0.9 + Math.random() * 0.2);

/** @internal Ends a lease with a given reason (a campaign's close() uses `shutdown`). */
export const endLease: unique symbol = Symbol('endLease');

class HeldLease implements Lease {
  readonly key: string;
  readonly token: number;
  readonly #backend: LeaseBackend;
  readonly #settings: LeaseSettings;
  // Created on the first read of `signal`: a lease whose signal nobody reads pays for neither the
  // controller nor the abort event nor the error (the reason is kept in #lostReason).
  #controller: AbortController | undefined;
  #lostReason: LeaseLostReason | undefined;
  #lostError: LeaseLostError | undefined;
  readonly #lost = new ListenerList<LeaseLostReason>({ error: InvalidOptionsError });
  #expiresAt: number;
  #renewTimer: unknown;
  #deadlineTimer: unknown;
  #inFlight: Promise<void> | undefined;
  #released: Promise<boolean> | undefined;

  constructor(
    backend: LeaseBackend,
    key: string,
    token: number,
    expiresAt: number,
    settings: LeaseSettings,
  ) {
    this.#backend = backend;
    this.key = key;
    this.token = token;
    this.#expiresAt = expiresAt;
    this.#settings = settings;
    this.#scheduleDeadline();
    this.#scheduleRenew(jitter(settings.ttlMs / 3));
  }

  get expiresAt(): number {
    return this.#expiresAt;
  }

  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.#lostReason !== undefined) this.#controller.abort(this.#error());
    }
    return this.#controller.signal;
  }

  /** The `LEASE_LOST` error of a lost lease (made once). */
  #error(): LeaseLostError {
    this.#lostError ??= lostError(this.key, this.token, this.#lostReason ?? 'released');
    return this.#lostError;
  }

  onLost(listener: (reason: LeaseLostReason) => void): Subscription {
    const subscription = this.#lost.add(listener);
    if (this.#lostReason !== undefined) {
      const reason = this.#lostReason;
      queueMicrotask(() => {
        subscription.dispose();
        listener(reason);
      });
    }
    return subscription;
  }

  renew(): Promise<void> {
    if (this.#lostReason !== undefined) return Promise.reject(this.#error());
    this.#inFlight ??= this.#renewOnce().finally(() => {
      this.#inFlight = undefined;
    });
    return this.#inFlight;
  }

  release(): Promise<boolean> {
    return this[endLease]('released');
  }

  [endLease](reason: LeaseLostReason): Promise<boolean> {
    this.#released ??= (async () => {
      this.#lose(reason);
      try {
        return (await this.#backend.release(this.key, this.token)).released;
      } catch {
        return false;
      }
    })();
    return this.#released;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.release();
  }

  /** The deadline: the signal must have aborted by then unless a renewal moved it. */
  get #deadline(): number {
    return this.#expiresAt - this.#settings.safetyMarginMs;
  }

  async #renewOnce(): Promise<void> {
    const { clock, ttlMs } = this.#settings;
    const sentAt = clock.now();
    // An expired lease is never extended: past the deadline the signal must abort instead.
    if (sentAt >= this.#deadline) {
      this.#lose(sentAt >= this.#expiresAt ? 'expired' : 'renew-failed');
      throw this.#error();
    }
    let status: 'ok' | 'missing' | 'stolen' | 'session-invalidated';
    try {
      ({ status } = await this.#backend.renew(this.key, this.token, ttlMs));
    } catch (error) {
      throw error instanceof BackendUnavailableError
        ? error
        : new BackendUnavailableError(this.#backend.kind, String(error), { cause: error });
    }
    if (this.#lostReason !== undefined) {
      // Lost while the renewal was in flight: do not keep a hold nobody uses.
      if (status === 'ok') void this.#backend.release(this.key, this.token).catch(() => {});
      throw this.#error();
    }
    if (status !== 'ok') {
      this.#lose(status === 'missing' ? 'expired' : status);
      throw this.#error();
    }
    const now = clock.now();
    if (now >= this.#deadline) {
      this.#lose(now >= this.#expiresAt ? 'expired' : 'renew-failed');
      void this.#backend.release(this.key, this.token).catch(() => {});
      throw this.#error();
    }
    this.#expiresAt = sentAt + ttlMs;
    this.#scheduleDeadline();
  }

  #scheduleRenew(delayMs: number): void {
    if (!this.#settings.autoRenew || this.#lostReason !== undefined) return;
    const { clock } = this.#settings;
    clock.clearTimeout(this.#renewTimer);
    this.#renewTimer = unrefTimer(
      clock.setTimeout(() => {
        this.#renewTimer = undefined;
        this.renew().then(
          () => this.#scheduleRenew(jitter(this.#settings.ttlMs / 3)),
          () => {
            // Nothing throws from a timer: a failed renewal is tried again soon; a lost lease has
            // already aborted its signal.
            this.#scheduleRenew(jitter(Math.max(10, this.#settings.ttlMs / 10)));
          },
        );
      }, delayMs),
    );
  }

  #scheduleDeadline(): void {
    const { clock } = this.#settings;
    clock.clearTimeout(this.#deadlineTimer);
    this.#deadlineTimer = unrefTimer(
      clock.setTimeout(
        () => {
          this.#deadlineTimer = undefined;
          const now = clock.now();
          if (now >= this.#deadline)
            this.#lose(now >= this.#expiresAt ? 'expired' : 'renew-failed');
          else this.#scheduleDeadline();
        },
        Math.max(0, this.#deadline - clock.now()),
      ),
    );
  }

  #lose(reason: LeaseLostReason): void {
    if (this.#lostReason !== undefined) return;
    const { clock } = this.#settings;
    clock.clearTimeout(this.#renewTimer);
    clock.clearTimeout(this.#deadlineTimer);
    this.#renewTimer = this.#deadlineTimer = undefined;
    this.#lostReason = reason;
    this.#controller?.abort(this.#error());
    if (reason === 'renew-failed' || reason === 'expired') {
      // The backend may still hold it (a partition that healed): hand it back early.
      void this.#backend.release(this.key, this.token).catch(() => {});
    }
    this.#lost.emit(reason);
  }
}

/**
 * Acquires the lease `key` on `backend`, waiting up to `waitMs` for the current holder. The lease
 * renews itself until `release()`; its `signal` aborts before the backend could give the key to
 * anyone else. Rejects with `LEASE_TIMEOUT` when the key stayed held, `BACKEND_UNAVAILABLE` when
 * the backend did not answer, `INVALID_OPTIONS` for bad options.
 */
export async function acquireLease(
  backend: LeaseBackend,
  key: string,
  options?: AcquireLeaseOptions,
): Promise<Lease> {
  requireBackend(backend, 'acquireLease()');
  requireKey(key, 'acquireLease()');
  const settings = parseLeaseOptions(options, 'acquireLease()');
  return acquireWith(backend, key, settings);
}

/** @internal */
export async function acquireWith(
  backend: LeaseBackend,
  key: string,
  settings: LeaseSettings & Options,
): Promise<HeldLease> {
  const { clock, ttlMs, waitMs, signal, safetyMarginMs } = settings;
  throwIfAborted(signal);
  const giveUpAt = clock.now() + waitMs;
  // Bounded: every round either returns, throws, or waits at least 5 ms of a finite waitMs.
  for (;;) {
    // Validity is measured from before the request is sent: the backend's hold can only end later.
    const sentAt = clock.now();
    const pending = backend.acquire(key, settings.owner, ttlMs).catch((error: unknown) => {
      throw error instanceof BackendUnavailableError
        ? error
        : new BackendUnavailableError(backend.kind, String(error), { cause: error });
    });
    if (signal) {
      // Aborted while the request is in flight: a hold it still takes is handed back at once.
      const giveBack = (): void => {
        void pending.then(
          (result) =>
            result.acquired ? backend.release(key, result.token).catch(() => {}) : undefined,
          () => {},
        );
      };
      signal.addEventListener('abort', giveBack, { once: true });
      void pending.finally(() => signal.removeEventListener('abort', giveBack)).catch(() => {});
    }
    const result = await pending;
    throwIfAborted(signal);
    const now = clock.now();
    if (result.acquired) {
      const expiresAt = sentAt + ttlMs;
      if (now < expiresAt - safetyMarginMs) {
        return new HeldLease(backend, key, result.token, expiresAt, settings);
      }
      // The answer came too late to use the lease safely: give it back, try again.
      void backend.release(key, result.token).catch(() => {});
    }
    if (now >= giveUpAt) throw new LeaseTimeoutError(key, waitMs);
    const remainingMs = result.acquired ? 0 : result.remainingMs;
    const delayMs = Math.min(
      giveUpAt - now,
      Math.max(5, jitter(Math.min(remainingMs, Math.max(10, ttlMs / 10)))),
    );
    await sleep(delayMs, { clock, signal });
  }
}
