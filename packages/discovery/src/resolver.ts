import {
  type Clock,
  ListenerList,
  o,
  type Subscription,
  systemClock,
  unrefTimer,
} from '@ballast/kernel';
import type { Balancer, PickContext } from './balancer.ts';
import { type Endpoint, EndpointState, type Outcome } from './endpoint.ts';
import {
  type DiscoveryError,
  InvalidOptionsError,
  isDiscoveryError,
  NoInstanceAvailableError,
  RegistryUnavailableError,
  ServiceNotFoundError,
} from './errors.ts';
import { parse } from './options.ts';
import {
  countOutcome,
  type EjectionConfig,
  eject,
  ejectionSchema,
  maxEjected,
  type OutlierEjectionOptions,
  uneject,
} from './outlier-ejection.ts';
import { p2cPeakEwma } from './p2c-peak-ewma.ts';
import type { Instance, Registry } from './registry.ts';
import { resolverTelemetry } from './telemetry.ts';

/** Options of {@link resolver}. */
export interface ResolverOptions {
  /** Where the service's instances come from. */
  registry: Registry;
  /** The service to follow, e.g. `orders`. */
  service: string;
  /** How to choose an instance. Default `p2cPeakEwma()`. */
  balancer?: Balancer | undefined;
  /**
   * How long the last known good list is served while the registry is unreachable (or suddenly
   * reports no instance at all), in ms; after that, picks fail with `REGISTRY_UNAVAILABLE`.
   * Default `300000` (5 minutes).
   */
  maxStaleMs?: number | undefined;
  /**
   * Envoy's panic threshold, 0–1: when fewer than this share of the instances are healthy and
   * not ejected, balance over all of them (a partial outage should not overload the few left).
   * `0` disables it. Default `0.5`.
   */
  panicThreshold?: number | undefined;
  /**
   * This client's zone: instances in it are preferred while enough of them (the panic threshold's
   * share of that zone) are available. Default: no preference.
   */
  zone?: string | undefined;
  /**
   * Slow start (Envoy `slow_start`): an instance that joins after the first list gets a share of
   * traffic growing from `slowStartMinWeight` to full over this many ms. Default `0` (off).
   */
  slowStartMs?: number | undefined;
  /** Slow start's curve: share = (age / slowStartMs)^(1 / aggression). Default `1` (linear). */
  slowStartAggression?: number | undefined;
  /** Smallest share of traffic during slow start, 0–1. Default `0.1`. */
  slowStartMinWeight?: number | undefined;
  /** Passive outlier ejection; `false` turns it off. Default: Envoy's defaults. */
  ejection?: OutlierEjectionOptions | false | undefined;
  /**
   * How long {@link Resolver.ready} waits for the registry's first answer, in ms, before failing
   * with `REGISTRY_UNAVAILABLE`. Default `5000`.
   */
  resolveTimeoutMs?: number | undefined;
  /** Time source for staleness, ejection, slow start and latency. Default: the system clock. */
  clock?: Clock | undefined;
}

/** Where a resolver stands. */
export type ResolverState =
  /** No answer from the registry yet. */
  | 'pending'
  /** The list is the registry's current one. */
  | 'fresh'
  /** The registry is failing (or reported no instance): the last known good list is served. */
  | 'stale'
  /** Stale for longer than `maxStaleMs`: no instance is served. */
  | 'expired'
  /** `close()` was called. */
  | 'closed';

/** A snapshot from {@link Resolver.status}. */
export interface ResolverStatus {
  /** The service followed. */
  readonly service: string;
  /** See {@link ResolverState}. */
  readonly state: ResolverState;
  /** Instances in the served list. */
  readonly instances: number;
  /** Instances healthy and not ejected. */
  readonly available: number;
  /** Instances ejected by outlier detection. */
  readonly ejected: number;
  /** `true` while the panic threshold spreads traffic over all instances. */
  readonly panic: boolean;
  /** Clock time of the registry's last good answer, if any. */
  readonly lastUpdateAt: number | undefined;
  /** How long the served list has been stale, in ms (0 when fresh). */
  readonly staleForMs: number;
  /** The registry's last error, if the resolver is stale or pending after one. */
  readonly lastError: DiscoveryError | undefined;
}

/**
 * One endpoint in a {@link ResolverSnapshot}, as this client sees it: a plain copy (JSON-safe),
 * taken at the snapshot's time — what Envoy's admin `/clusters` shows per host.
 */
export interface EndpointSnapshot {
  /** The instance's id in the registry. */
  readonly id: string;
  /** Host name or IP address requests go to. */
  readonly address: string;
  /** TCP port requests go to. */
  readonly port: number;
  /** The instance's zone, `undefined` when the registry reports none. */
  readonly zone: string | undefined;
  /** The registry's health flag (`false` while draining or failing its check). */
  readonly healthy: boolean;
  /** The instance's metadata from the registry. */
  readonly meta: Readonly<Record<string, string>>;
  /** Requests this client sent to the instance that have not finished yet. */
  readonly outstanding: number;
  /**
   * The balancer's latency estimate in ms (for `p2cPeakEwma()`, the peak-EWMA cost as of its last
   * sample), or `undefined` before the first answer or with a balancer that keeps none.
   */
  readonly latencyMs: number | undefined;
  /** How long ago the estimate was last updated, in ms; `undefined` without an estimate. */
  readonly latencyAgeMs: number | undefined;
  /** `true` while outlier ejection keeps the instance out of rotation (until `ejectedUntil`). */
  readonly ejected: boolean;
  /** Clock time the ejection ends, or `undefined` when not ejected. */
  readonly ejectedUntil: number | undefined;
  /** How long the ejection still lasts, in ms (0 when not ejected). */
  readonly ejectedForMs: number;
  /** How many times the instance has been ejected (after decay; it sets the next duration). */
  readonly timesEjected: number;
  /** Failures in a row counted by outlier ejection since the last success. */
  readonly consecutiveFailures: number;
  /** Requests answered below 500, since the endpoint appeared in the list. */
  readonly successes: number;
  /** Requests answered with 500 or above, since the endpoint appeared in the list. */
  readonly serverErrors: number;
  /** Requests with no answer (connection failed, reset, timed out), since it appeared. */
  readonly connectErrors: number;
  /** Requests the caller gave up on (aborted), since it appeared. */
  readonly cancelled: number;
}

/**
 * A read-only copy of a resolver's state from {@link Resolver.snapshot}: its status plus every
 * endpoint's load, latency estimate, ejection and counters. Plain data, safe to serialize as JSON
 * (e.g. from an internal admin endpoint); changing it changes nothing.
 */
export interface ResolverSnapshot {
  /** The service followed. */
  readonly service: string;
  /** See {@link ResolverState}. */
  readonly state: ResolverState;
  /** The resolver clock's time the snapshot was taken, in ms. */
  readonly at: number;
  /** The balancer's name, e.g. `'p2c-peak-ewma'`. */
  readonly balancer: string;
  /** This client's zone (the `zone` option), `undefined` when none. */
  readonly zone: string | undefined;
  /** Instances healthy and not ejected. */
  readonly available: number;
  /** Instances ejected by outlier detection. */
  readonly ejected: number;
  /** `true` while the panic threshold spreads traffic over all instances. */
  readonly panic: boolean;
  /** How long the served list has been stale, in ms (0 when fresh). */
  readonly staleForMs: number;
  /** The registry's last error as `CODE: message`, if the resolver is stale or pending after one. */
  readonly lastError: string | undefined;
  /** Every endpoint of the served list, in the registry's order. */
  readonly endpoints: readonly EndpointSnapshot[];
}

/** An ejection or its end, from {@link Resolver.onEjection}. */
export interface EjectionEvent {
  /** The instance concerned. */
  readonly instance: Instance;
  /** `true` when ejected, `false` when it returns to rotation. */
  readonly ejected: boolean;
  /** For an ejection: how long, in ms. */
  readonly durationMs: number;
  /** How many times the instance has been ejected (after decay). */
  readonly timesEjected: number;
}

/** One chosen instance for one request; call `done()` exactly once when the request ends. */
export interface Pick {
  /** The chosen endpoint. */
  readonly endpoint: Endpoint;
  /** Its instance (`endpoint.instance`). */
  readonly instance: Instance;
  /** Reports how the request ended; feeds the balancer and outlier ejection. Idempotent. */
  done(outcome: Outcome): void;
}

/** Options of {@link Resolver.pick}. */
export interface PickOptions {
  /** An endpoint already tried for this request: the pick avoids it when another is available. */
  exclude?: Endpoint | undefined;
}

/**
 * The instances of one service, kept current from the registry's watch, and the choice of one
 * for each request: health, outlier ejection, panic threshold, zone preference and slow start
 * around a {@link Balancer}.
 */
export interface Resolver extends AsyncDisposable {
  /** The service followed. */
  readonly service: string;
  /**
   * Resolves once the registry answered (a list, even empty); rejects with `REGISTRY_UNAVAILABLE`
   * if its first answer is an error or none came within `resolveTimeoutMs`.
   */
  ready(options?: { signal?: AbortSignal | undefined }): Promise<void>;
  /**
   * Chooses an instance now, in O(1). Throws `SERVICE_NOT_FOUND` (never listed),
   * `NO_INSTANCE_AVAILABLE` (with `retryAfterMs`) or `REGISTRY_UNAVAILABLE` (stale past
   * `maxStaleMs`) at once; never waits.
   */
  pick(options?: PickOptions): Pick;
  /** The served list (the last known good one while stale). */
  instances(): readonly Instance[];
  /** The served list with each instance's load, latency and ejection. */
  endpoints(): readonly Endpoint[];
  /** Where the resolver stands. */
  status(): ResolverStatus;
  /**
   * A read-only, JSON-safe copy of the status and of every endpoint: address, zone, requests in
   * flight, latency estimate, ejection and outcome counters. O(n); for admin pages and
   * dashboards, not for every request.
   */
  snapshot(): ResolverSnapshot;
  /** Called with the served list whenever it changes. */
  onInstances(listener: (instances: readonly Instance[]) => void): Subscription;
  /** Called whenever the status's `state` changes. */
  onStatus(listener: (status: ResolverStatus) => void): Subscription;
  /** Called with every registry error (`REGISTRY_UNAVAILABLE`, `INVALID_INSTANCE`). */
  onError(listener: (error: DiscoveryError) => void): Subscription;
  /** Called when outlier ejection takes an instance out of rotation or lets it back. */
  onEjection(listener: (event: EjectionEvent) => void): Subscription;
  /** Stops watching the registry; idempotent. Does not close the registry. */
  close(): Promise<void>;
}

const schema = o.object({
  registry: o.custom<Registry>(
    (value) =>
      typeof value === 'object' &&
      value !== null &&
      typeof (value as Registry).watch === 'function' &&
      typeof (value as Registry).list === 'function',
    'a Registry (staticRegistry(), redisRegistry(), consulRegistry(), dnsRegistry() or your own)',
  ),
  service: o.string({ minLength: 1, maxLength: 253 }),
  balancer: o
    .custom<Balancer>(
      (value) =>
        typeof value === 'object' &&
        value !== null &&
        typeof (value as Balancer).pick === 'function',
      'a Balancer (p2cPeakEwma(), leastOutstanding(), roundRobin(), random(), weighted())',
    )
    .optional(),
  maxStaleMs: o.number({ min: 0, max: 2_147_483_647 }).default(300_000),
  panicThreshold: o.number({ min: 0, max: 1 }).default(0.5),
  zone: o.string({ minLength: 1 }).optional(),
  slowStartMs: o.number({ min: 0, max: 2_147_483_647 }).default(0),
  slowStartAggression: o.number({ gt: 0, max: 100 }).default(1),
  slowStartMinWeight: o.number({ gt: 0, max: 1 }).default(0.1),
  ejection: o.union(o.literal(false), ejectionSchema).optional(),
  resolveTimeoutMs: o.number({ gt: 0, max: 2_147_483_647 }).default(5000),
  clock: o.clock<Clock>().optional(),
});

/**
 * Follows one service in a registry and picks an instance per request. The undici dispatcher
 * makes one per service for you; use one directly for other clients (gRPC, raw TCP):
 *
 * @example
 * const orders = resolver({ registry, service: 'orders' });
 * await orders.ready();
 * const pick = orders.pick();
 * try { await call(pick.instance); pick.done('success'); } catch { pick.done('connect-error'); }
 */
export function resolver(options: ResolverOptions): Resolver {
  const parsed = parse(schema, options, 'resolver()');
  return new ServiceResolver(parsed);
}

type Parsed = ReturnType<typeof schema.parse>;

const EMPTY: readonly EndpointState[] = Object.freeze([]);

/** How often a resolver stale after a registry error asks the registry again. */
const PROBE_INTERVAL_MS = 2000;

function countFinished(endpoint: EndpointState, outcome: Outcome): void {
  if (outcome === 'success') endpoint.successes++;
  else if (outcome === 'server-error') endpoint.serverErrors++;
  else if (outcome === 'connect-error') endpoint.connectErrors++;
  else endpoint.cancelled++;
}

function endpointSnapshot(endpoint: EndpointState, now: number): EndpointSnapshot {
  const { instance } = endpoint;
  const latencyMs = endpoint.latencyMs;
  return {
    id: instance.id,
    address: instance.address,
    port: instance.port,
    zone: instance.zone,
    healthy: instance.healthy,
    meta: { ...instance.meta },
    outstanding: endpoint.outstanding,
    latencyMs,
    latencyAgeMs: latencyMs === undefined ? undefined : Math.max(0, now - endpoint.costAt),
    // An ejection that ran out ends at the next pick; a snapshot already shows it ended.
    ejected: endpoint.ejectedUntil > now,
    ejectedUntil: endpoint.ejectedUntil > now ? endpoint.ejectedUntil : undefined,
    ejectedForMs: Math.max(0, endpoint.ejectedUntil - now),
    timesEjected: endpoint.timesEjected,
    consecutiveFailures: endpoint.consecutiveFailures,
    successes: endpoint.successes,
    serverErrors: endpoint.serverErrors,
    connectErrors: endpoint.connectErrors,
    cancelled: endpoint.cancelled,
  };
}

class PickImpl implements Pick {
  readonly endpoint: EndpointState;
  readonly #resolver: ServiceResolver;
  readonly #startedAt: number;
  #done = false;

  constructor(resolver: ServiceResolver, endpoint: EndpointState, startedAt: number) {
    this.#resolver = resolver;
    this.endpoint = endpoint;
    this.#startedAt = startedAt;
  }

  get instance(): Instance {
    return this.endpoint.instance;
  }

  done(outcome: Outcome): void {
    if (this.#done) return;
    this.#done = true;
    this.#resolver.finish(this.endpoint, this.#startedAt, outcome);
  }
}

class ServiceResolver implements Resolver {
  readonly service: string;
  readonly #registry: Registry;
  readonly #balancer: Balancer;
  readonly #clock: Clock;
  readonly #maxStaleMs: number;
  readonly #panicThreshold: number;
  readonly #zone: string | undefined;
  readonly #slowStartMs: number;
  readonly #slowStartExponent: number;
  readonly #slowStartMinWeight: number;
  readonly #ejection: EjectionConfig | undefined;
  readonly #resolveTimeoutMs: number;

  #state: ResolverState = 'pending';
  #everSeen = false;
  #byId = new Map<string, EndpointState>();
  #all: readonly EndpointState[] = EMPTY;
  #candidates: readonly EndpointState[] = EMPTY;
  #instances: readonly Instance[] = Object.freeze([]);
  #available = 0;
  #ejectedCount = 0;
  #panic = false;
  #nextUnejectAt = Number.POSITIVE_INFINITY;
  #lastUpdateAt: number | undefined;
  #staleSince = 0;
  #staleTimer: unknown;
  #probeTimer: unknown;
  #lastError: DiscoveryError | undefined;
  #readyWaiters: { resolve: () => void; reject: (error: unknown) => void }[] = [];
  readonly #watch: Subscription | undefined;
  readonly #context: PickContext & { now: number; exclude: Endpoint | undefined };
  readonly #telemetry: ReturnType<typeof resolverTelemetry>;

  readonly #instanceListeners = new ListenerList<readonly Instance[]>({
    error: InvalidOptionsError,
  });
  readonly #statusListeners = new ListenerList<ResolverStatus>({ error: InvalidOptionsError });
  readonly #errorListeners = new ListenerList<DiscoveryError>({ error: InvalidOptionsError });
  readonly #ejectionListeners = new ListenerList<EjectionEvent>({ error: InvalidOptionsError });

  constructor(options: Parsed) {
    this.service = options.service;
    this.#registry = options.registry;
    this.#balancer = options.balancer ?? p2cPeakEwma();
    this.#clock = options.clock ?? systemClock;
    this.#maxStaleMs = options.maxStaleMs;
    this.#panicThreshold = options.panicThreshold;
    this.#zone = options.zone;
    this.#slowStartMs = options.slowStartMs;
    this.#slowStartExponent = 1 / options.slowStartAggression;
    this.#slowStartMinWeight = options.slowStartMinWeight;
    this.#ejection =
      options.ejection === false ? undefined : ejectionSchema.parse(options.ejection ?? {});
    this.#resolveTimeoutMs = options.resolveTimeoutMs;
    const warmth = (endpoint: Endpoint): number => this.#warmth(endpoint as EndpointState);
    this.#context = { now: 0, exclude: undefined, warmth };
    this.#telemetry = resolverTelemetry(this.service, this.#balancer.name, () => this.status());
    let watch: Subscription | undefined;
    try {
      watch = this.#registry.watch(this.service, {
        onInstances: (list) => this.#onList(list),
        onError: (error) => this.#onRegistryError(error),
      });
    } catch (error) {
      const failure = isDiscoveryError(error)
        ? error
        : new RegistryUnavailableError(this.#registry.kind, 'watch() threw', { cause: error });
      queueMicrotask(() => this.#onRegistryError(failure));
    }
    this.#watch = watch;
  }

  // --- registry side ---------------------------------------------------------------------------

  #onList(list: readonly Instance[]): void {
    if (this.#state === 'closed') return;
    const now = this.#clock.now();
    if (list.length === 0 && this.#all.length > 0) {
      // A registry that suddenly knows nobody is more likely blipping than the whole fleet gone:
      // keep serving the last list, as during an outage, for up to maxStaleMs.
      this.#enterStale(now);
      this.#resolveReady();
      return;
    }
    const initial = this.#lastUpdateAt === undefined;
    const byId = new Map<string, EndpointState>();
    for (const instance of list) {
      let state = this.#byId.get(instance.id);
      if (state === undefined) {
        state = new EndpointState(instance, initial ? Number.NEGATIVE_INFINITY : now);
        if (!initial && this.#slowStartMs > 0) state.warmUntil = now + this.#slowStartMs;
      } else {
        state.instance = instance;
      }
      byId.set(instance.id, state);
    }
    this.#byId = byId;
    this.#all = Object.freeze([...byId.values()]);
    this.#instances = Object.freeze(this.#all.map((state) => state.instance));
    if (this.#all.length > 0) this.#everSeen = true;
    this.#lastUpdateAt = now;
    this.#lastError = undefined;
    this.#clearStaleTimer();
    this.#rebuild();
    this.#setState('fresh');
    this.#resolveReady();
    this.#instanceListeners.emit(this.#instances);
  }

  #onRegistryError(error: DiscoveryError): void {
    if (this.#state === 'closed') return;
    this.#errorListeners.emit(error);
    if (isDiscoveryError(error, 'INVALID_INSTANCE')) return; // one bad record, skipped by the registry
    this.#lastError = error;
    if (this.#state === 'pending') {
      this.#rejectReady(error);
      return;
    }
    this.#enterStale(this.#clock.now());
    this.#scheduleProbe();
  }

  /**
   * While stale after an error, asks the registry with `list()` every {@link PROBE_INTERVAL_MS}:
   * a registry's watch may stay silent after it recovers when the list did not change, and a good
   * answer is what ends the staleness.
   */
  #scheduleProbe(): void {
    if (this.#probeTimer !== undefined) return;
    const handle = this.#clock.setTimeout(() => {
      this.#probeTimer = undefined;
      if (this.#state !== 'stale' && this.#state !== 'expired') return;
      this.#registry.list(this.service).then(
        (list) => {
          if (this.#state !== 'stale' && this.#state !== 'expired') return;
          this.#onList(list);
          // Still stale: the registry answered with nobody at all; ask again later.
          if (this.#state === 'stale') this.#scheduleProbe();
        },
        () => {
          if (this.#state === 'stale' || this.#state === 'expired') this.#scheduleProbe();
        },
      );
    }, PROBE_INTERVAL_MS);
    this.#probeTimer = unrefTimer(handle);
  }

  #enterStale(now: number): void {
    if (this.#state === 'stale' || this.#state === 'expired') return;
    this.#staleSince = now;
    this.#setState('stale');
    const handle = this.#clock.setTimeout(() => this.#expire(), this.#maxStaleMs);
    this.#staleTimer = unrefTimer(handle);
  }

  #expire(): void {
    this.#staleTimer = undefined;
    if (this.#state !== 'stale') return;
    this.#byId = new Map();
    this.#all = EMPTY;
    this.#instances = Object.freeze([]);
    this.#rebuild();
    this.#setState('expired');
    this.#instanceListeners.emit(this.#instances);
  }

  #clearStaleTimer(): void {
    if (this.#staleTimer !== undefined) {
      this.#clock.clearTimeout(this.#staleTimer);
      this.#staleTimer = undefined;
    }
  }

  #setState(state: ResolverState): void {
    if (this.#state === state) return;
    this.#state = state;
    this.#statusListeners.emit(this.status());
  }

  // --- candidates ------------------------------------------------------------------------------

  /** Recomputes the candidate array; O(n), only when the list, health or an ejection changes. */
  #rebuild(): void {
    const all = this.#all;
    const available: EndpointState[] = [];
    const local: EndpointState[] = [];
    let localTotal = 0;
    let ejected = 0;
    let nextUneject = Number.POSITIVE_INFINITY;
    for (const state of all) {
      if (state.ejectedUntil !== 0) {
        ejected++;
        if (state.ejectedUntil < nextUneject) nextUneject = state.ejectedUntil;
      }
      const inZone = this.#zone !== undefined && state.instance.zone === this.#zone;
      if (inZone) localTotal++;
      if (state.instance.healthy && state.ejectedUntil === 0) {
        available.push(state);
        if (inZone) local.push(state);
      }
    }
    this.#available = available.length;
    this.#ejectedCount = ejected;
    this.#nextUnejectAt = nextUneject;
    const panic =
      all.length > 0 &&
      this.#panicThreshold > 0 &&
      available.length < this.#panicThreshold * all.length;
    if (panic !== this.#panic) {
      this.#panic = panic;
      this.#telemetry.panic(panic);
    }
    if (panic) {
      this.#candidates = all;
    } else if (local.length > 0 && local.length >= this.#panicThreshold * localTotal) {
      this.#candidates = Object.freeze(local);
    } else {
      this.#candidates = Object.freeze(available);
    }
  }

  #unejectDue(now: number): void {
    for (const state of this.#all) {
      if (state.ejectedUntil !== 0 && state.ejectedUntil <= now) {
        uneject(state, now);
        this.#ejectionListeners.emit({
          instance: state.instance,
          ejected: false,
          durationMs: 0,
          timesEjected: state.timesEjected,
        });
      }
    }
    this.#rebuild();
  }

  #warmth(state: EndpointState): number {
    if (state.warmUntil === 0) return 1;
    const now = this.#context.now;
    if (now >= state.warmUntil) {
      state.warmUntil = 0;
      return 1;
    }
    const progress = Math.max(0, now - state.addedAt) / this.#slowStartMs;
    return Math.max(this.#slowStartMinWeight, progress ** this.#slowStartExponent);
  }

  // --- picking ---------------------------------------------------------------------------------

  pick(options?: PickOptions): Pick {
    const now = this.#clock.now();
    if (now >= this.#nextUnejectAt) this.#unejectDue(now);
    const candidates = this.#candidates;
    if (candidates.length === 0) throw this.#noInstance(now);
    const context = this.#context;
    context.now = now;
    context.exclude = options?.exclude;
    const endpoint = (
      candidates.length === 1 ? candidates[0]! : this.#balancer.pick(candidates, context)
    ) as EndpointState;
    context.exclude = undefined;
    endpoint.outstanding++;
    endpoint.outstandingStartSum += now;
    this.#telemetry.picked(endpoint.instance.id);
    return new PickImpl(this, endpoint, now);
  }

  #noInstance(now: number): DiscoveryError {
    switch (this.#state) {
      case 'pending':
        return new NoInstanceAvailableError(
          this.service,
          100,
          'the registry has not answered yet; await resolver.ready() before the first pick',
        );
      case 'closed':
        return new NoInstanceAvailableError(this.service, 0, 'the resolver was closed');
      case 'expired':
        return new RegistryUnavailableError(
          this.#registry.kind,
          `no good answer for service "${this.service}" in ${now - this.#staleSince} ms (maxStaleMs ${this.#maxStaleMs})`,
          { cause: this.#lastError },
        );
    }
    if (!this.#everSeen)
      return new ServiceNotFoundError(this.service, { registry: this.#registry.kind });
    if (this.#all.length === 0) {
      return new NoInstanceAvailableError(this.service, 1000, 'every instance has deregistered');
    }
    const retryAfterMs = Number.isFinite(this.#nextUnejectAt)
      ? Math.max(0, this.#nextUnejectAt - now)
      : 1000;
    return new NoInstanceAvailableError(
      this.service,
      retryAfterMs,
      `${this.#all.length} instance(s), none healthy (${this.#ejectedCount} ejected)`,
    );
  }

  /** Called by a {@link Pick} when its request ended. */
  finish(endpoint: EndpointState, startedAt: number, outcome: Outcome): void {
    const now = this.#clock.now();
    const context = this.#context;
    context.now = now;
    this.#balancer.observe?.(endpoint, Math.max(0, now - startedAt), outcome, context);
    endpoint.outstanding = Math.max(0, endpoint.outstanding - 1);
    endpoint.outstandingStartSum =
      endpoint.outstanding === 0 ? 0 : endpoint.outstandingStartSum - startedAt;
    countFinished(endpoint, outcome);
    const config = this.#ejection;
    if (config === undefined || !countOutcome(endpoint, outcome, config)) return;
    if (this.#byId.get(endpoint.instance.id) !== endpoint) return; // left the list meanwhile
    if (this.#ejectedCount >= maxEjected(this.#all.length, config)) return;
    const durationMs = eject(endpoint, now, config);
    this.#rebuild();
    this.#telemetry.ejected(endpoint.instance.id);
    this.#ejectionListeners.emit({
      instance: endpoint.instance,
      ejected: true,
      durationMs,
      timesEjected: endpoint.timesEjected,
    });
  }

  // --- readiness, status, events ---------------------------------------------------------------

  ready(options?: { signal?: AbortSignal | undefined }): Promise<void> {
    if (this.#state !== 'pending') {
      if (this.#state === 'closed') {
        return Promise.reject(
          new NoInstanceAvailableError(this.service, 0, 'the resolver was closed'),
        );
      }
      return Promise.resolve();
    }
    const signal = options?.signal;
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<void>((resolve, reject) => {
      const cleanup = (): void => {
        this.#clock.clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        const index = this.#readyWaiters.indexOf(waiter);
        if (index >= 0) this.#readyWaiters.splice(index, 1);
      };
      const waiter = {
        resolve: () => {
          cleanup();
          resolve();
        },
        reject: (error: unknown) => {
          cleanup();
          reject(error);
        },
      };
      const onAbort = (): void => waiter.reject(signal!.reason);
      const timer = this.#clock.setTimeout(() => {
        waiter.reject(
          new RegistryUnavailableError(
            this.#registry.kind,
            `no answer for service "${this.service}" within ${this.#resolveTimeoutMs} ms (resolveTimeoutMs)`,
            { cause: this.#lastError },
          ),
        );
      }, this.#resolveTimeoutMs);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#readyWaiters.push(waiter);
    });
  }

  #resolveReady(): void {
    for (const waiter of [...this.#readyWaiters]) waiter.resolve();
  }

  #rejectReady(error: unknown): void {
    for (const waiter of [...this.#readyWaiters]) waiter.reject(error);
  }

  instances(): readonly Instance[] {
    return this.#instances;
  }

  endpoints(): readonly Endpoint[] {
    return this.#all;
  }

  status(): ResolverStatus {
    const now = this.#clock.now();
    const stale = this.#state === 'stale' || this.#state === 'expired';
    return {
      service: this.service,
      state: this.#state,
      instances: this.#all.length,
      available: this.#available,
      ejected: this.#ejectedCount,
      panic: this.#panic,
      lastUpdateAt: this.#lastUpdateAt,
      staleForMs: stale ? now - this.#staleSince : 0,
      lastError: this.#lastError,
    };
  }

  snapshot(): ResolverSnapshot {
    const status = this.status();
    const now = this.#clock.now();
    const error = status.lastError;
    return {
      service: this.service,
      state: status.state,
      at: now,
      balancer: this.#balancer.name,
      zone: this.#zone,
      available: status.available,
      ejected: status.ejected,
      panic: status.panic,
      staleForMs: status.staleForMs,
      lastError: error === undefined ? undefined : `${error.code}: ${error.message}`,
      endpoints: this.#all.map((endpoint) => endpointSnapshot(endpoint, now)),
    };
  }

  onInstances(listener: (instances: readonly Instance[]) => void): Subscription {
    return this.#instanceListeners.add(listener);
  }

  onStatus(listener: (status: ResolverStatus) => void): Subscription {
    return this.#statusListeners.add(listener);
  }

  onError(listener: (error: DiscoveryError) => void): Subscription {
    return this.#errorListeners.add(listener);
  }

  onEjection(listener: (event: EjectionEvent) => void): Subscription {
    return this.#ejectionListeners.add(listener);
  }

  async close(): Promise<void> {
    if (this.#state === 'closed') return;
    this.#watch?.dispose();
    this.#clearStaleTimer();
    if (this.#probeTimer !== undefined) this.#clock.clearTimeout(this.#probeTimer);
    this.#probeTimer = undefined;
    this.#setState('closed');
    this.#rejectReady(new NoInstanceAvailableError(this.service, 0, 'the resolver was closed'));
    this.#byId = new Map();
    this.#all = EMPTY;
    this.#candidates = EMPTY;
    this.#telemetry.close();
    this.#instanceListeners.clear();
    this.#statusListeners.clear();
    this.#errorListeners.clear();
    this.#ejectionListeners.clear();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
