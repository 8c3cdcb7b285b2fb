import {
  type Clock,
  ListenerList,
  o,
  parseOptions,
  type Subscription,
  unrefTimer,
} from '@ballast/kernel';
import { type DiscoveryError, InvalidOptionsError, type LeaseLostReason } from '../errors.ts';
import type { LeaseBackend, LeaseHolder } from './backend.ts';
import { acquireWith, endLease, type Lease, leaseSettings, monotonicClock } from './lease.ts';
import { electionTelemetry } from './telemetry.ts';

/** Options of {@link campaign}. */
export interface CampaignOptions {
  /** TTL of the leader's lease, in ms: a dead leader is replaced within about this long. Default `10000`. */
  ttlMs?: number | undefined;
  /** See `acquireLease()`'s `safetyMarginMs`. Default `ttlMs / 10`. */
  safetyMarginMs?: number | undefined;
  /**
   * How often a follower tries to take the lead, in ms (with jitter). Default `ttlMs / 3`, so a
   * failover takes at most about `ttlMs` plus one of these.
   */
  retryMs?: number | undefined;
  /**
   * How long this candidate waits after losing or resigning the lead before it stands again, in
   * ms (lets another candidate take over after a flapping connection). Default `0`.
   */
  lockDelayMs?: number | undefined;
  /** This candidate's name, as `leader()` reports it. Default `<hostname>:<pid>:<random>`. */
  id?: string | undefined;
  /**
   * Called when this candidate becomes the leader, with its lease: start leader-only work there
   * and stop it when `lease.signal` aborts.
   */
  onElected?: ((lease: Lease) => void) | undefined;
  /** Called when this candidate stops being the leader, with why. */
  onLost?: ((reason: LeaseLostReason) => void) | undefined;
  /** Called when an attempt to take the lead failed for another reason than someone else leading. */
  onError?: ((error: DiscoveryError) => void) | undefined;
  /** Time source (default: `performance.now()`); tests pass a manual clock. */
  clock?: Clock | undefined;
}

/** A change of this candidate's leadership. */
export type LeadershipChange =
  | {
      /** This candidate now leads. */
      readonly leader: true;
      /** Its lease. */
      readonly lease: Lease;
    }
  | {
      /** This candidate no longer leads. */
      readonly leader: false;
      /** Why. */
      readonly reason: LeaseLostReason;
    };

/** A candidate in an election: leads while it holds the election's lease. */
export interface Campaign extends AsyncDisposable {
  /** This candidate's id. */
  readonly id: string;
  /** True while this candidate holds the lead (its lease's signal has not aborted). */
  isLeader(): boolean;
  /** The lease while this candidate leads. */
  readonly lease: Lease | undefined;
  /** Who leads now according to the backend (`undefined`: nobody). */
  leader(): Promise<LeaseHolder | undefined>;
  /**
   * Gives up the lead (if held) and stands again only after `max(lockDelayMs, ttlMs)`, so that
   * another candidate takes over. Resolves once the lease is released.
   */
  resign(): Promise<void>;
  /** Calls `listener` on each change of this candidate's leadership. */
  onChange(listener: (change: LeadershipChange) => void): Subscription;
  /** Leaves the election: releases the lead (reason `shutdown`) and stops. Idempotent. */
  close(): Promise<void>;
}

const schema = o.object({
  ttlMs: o.integer({ min: 10, max: 24 * 3_600_000 }).default(10_000),
  safetyMarginMs: o.integer({ min: 1 }).optional(),
  retryMs: o.integer({ min: 1 }).optional(),
  lockDelayMs: o.integer({ min: 0 }).default(0),
  id: o.string({ minLength: 1, maxLength: 200 }).optional(),
  onElected: o.fn<(lease: Lease) => void>().optional(),
  onLost: o.fn<(reason: LeaseLostReason) => void>().optional(),
  onError: o.fn<(error: DiscoveryError) => void>().optional(),
  clock: o.clock<Clock>().default(monotonicClock),
});

const jitter = (ms: number): number => ms * (0.8 + Math.random() * 0.4);

/** Runs a user callback; its error surfaces as an uncaught exception, never in our loop. */
function call<A>(fn: ((arg: A) => void) | undefined, arg: A): void {
  if (!fn) return;
  try {
    fn(arg);
  } catch (error) {
    queueMicrotask(() => {
      throw error;
    });
  }
}

/**
 * Stands in the election `name` on `backend`: this candidate leads while it holds the lease
 * `name` (and its fencing token). Followers try again every `retryMs`. Stop with `close()`.
 */
export function campaign(
  backend: LeaseBackend,
  name: string,
  options: CampaignOptions = {},
): Campaign {
  const parsed = parseOptions(schema, options, {
    factory: 'campaign()',
    error: InvalidOptionsError,
  });
  if (
    typeof backend !== 'object' ||
    backend === null ||
    typeof (backend as { acquire?: unknown }).acquire !== 'function'
  ) {
    throw new InvalidOptionsError({
      option: 'backend',
      received: backend,
      message: 'campaign(): backend must be a lease backend such as redisLeaseBackend({ client }).',
    });
  }
  if (typeof name !== 'string' || name.length === 0) {
    throw new InvalidOptionsError({
      option: 'name',
      received: name,
      message: 'campaign(): name must be a non-empty string (the election’s lease key).',
    });
  }
  const settings = leaseSettings(
    {
      ttlMs: parsed.ttlMs,
      waitMs: 0,
      safetyMarginMs: parsed.safetyMarginMs,
      autoRenew: true,
      owner: parsed.id,
      signal: undefined,
      clock: parsed.clock,
    },
    'campaign()',
  );
  const { clock, ttlMs } = settings;
  const retryMs = parsed.retryMs ?? Math.max(1, Math.round(ttlMs / 3));
  const changes = new ListenerList<LeadershipChange>({ error: InvalidOptionsError });
  let current: (Lease & { [endLease](reason: LeaseLostReason): Promise<boolean> }) | undefined;
  let closed: Promise<void> | undefined;
  let timer: unknown;
  let standAgainAt = 0;
  const telemetry = electionTelemetry(name, () => current !== undefined && !current.signal.aborted);

  const schedule = (delayMs: number): void => {
    if (closed) return;
    clock.clearTimeout(timer);
    timer = unrefTimer(
      clock.setTimeout(() => {
        timer = undefined;
        void attemptOnce();
      }, delayMs),
    );
  };

  const attemptOnce = async (): Promise<void> => {
    if (closed || current) return;
    const wait = standAgainAt - clock.now();
    if (wait > 0) return schedule(wait);
    try {
      const lease = await acquireWith(backend, name, settings);
      if (closed) {
        await lease[endLease]('shutdown');
        return;
      }
      current = lease;
      lease.onLost((reason) => {
        if (current === lease) current = undefined;
        // A resignation has already pushed standAgainAt further out: keep the later of the two.
        standAgainAt = Math.max(standAgainAt, clock.now() + parsed.lockDelayMs);
        telemetry.lost(reason);
        changes.emit({ leader: false, reason });
        call(parsed.onLost, reason);
        schedule(Math.max(0, standAgainAt - clock.now()));
      });
      telemetry.elected();
      changes.emit({ leader: true, lease });
      call(parsed.onElected, lease);
    } catch (error) {
      const code = (error as DiscoveryError).code;
      if (code !== 'LEASE_TIMEOUT') call(parsed.onError, error as DiscoveryError);
      schedule(jitter(retryMs));
    }
  };

  schedule(0);

  const self: Campaign = {
    id: settings.owner,
    isLeader: () => current !== undefined && !current.signal.aborted,
    get lease() {
      return current && !current.signal.aborted ? current : undefined;
    },
    leader: () => backend.holder(name),
    async resign() {
      const lease = current;
      if (!lease) return;
      standAgainAt = clock.now() + Math.max(parsed.lockDelayMs, ttlMs);
      await lease.release();
    },
    onChange: (listener) => changes.add(listener),
    close() {
      closed ??= (async () => {
        clock.clearTimeout(timer);
        timer = undefined;
        const lease = current;
        if (lease) await lease[endLease]('shutdown');
        telemetry.close();
      })();
      return closed;
    },
    [Symbol.asyncDispose]() {
      return self.close();
    },
  };
  return self;
}
