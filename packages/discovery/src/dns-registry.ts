import { Resolver } from 'node:dns/promises';
import { isIP } from 'node:net';
import {
  type Clock,
  o,
  parseOptions,
  raceAbort,
  type Subscription,
  systemClock,
  unrefTimer,
} from '@ballast/kernel';
import {
  type DiscoveryError,
  InvalidInstanceError,
  InvalidOptionsError,
  RegistrationUnsupportedError,
  RegistryUnavailableError,
} from './errors.ts';
import {
  type Instance,
  type InstanceInput,
  normalizeInstance,
  type RegisteredInstance,
  type Registry,
  type WatchEvents,
} from './registry.ts';
import {
  backoffMs,
  byId,
  countRegistryError,
  listSignature,
  subscription,
} from './registry-support.ts';

/** An SRV record, as `node:dns` returns it. */
export interface DnsSrvRecord {
  name: string;
  port: number;
  priority: number;
  weight: number;
}

/** An address with its TTL in seconds, as `node:dns` returns it with `{ ttl: true }`. */
export interface DnsAddressRecord {
  address: string;
  ttl: number;
}

/**
 * What the DNS registry needs from a resolver: `node:dns/promises`' `Resolver` fits. Pass your own
 * to control servers, timeouts and retries, or to answer from somewhere else in tests.
 */
export interface DnsResolver {
  resolveSrv(hostname: string): Promise<DnsSrvRecord[]>;
  resolve4(hostname: string, options: { ttl: true }): Promise<DnsAddressRecord[]>;
  resolve6(hostname: string, options: { ttl: true }): Promise<DnsAddressRecord[]>;
  /** Cancels outstanding queries (called on `close()` when present). */
  cancel?(): void;
}

/** Options of {@link dnsRegistry}. */
export interface DnsRegistryOptions {
  /**
   * `'srv'`: the service name is looked up as SRV records (port, priority and weight from DNS;
   * each target's A/AAAA records give the addresses). `'a'`: the name is looked up as A/AAAA
   * records and every address gets `port`. Default `'srv'`.
   */
  mode?: 'srv' | 'a' | undefined;
  /**
   * DNS servers to ask, as `'10.96.0.10'`, `'127.0.0.1:5353'` or `'[::1]:53'`. Default: the
   * system's (`/etc/resolv.conf`). Ignored with `resolver`.
   */
  servers?: readonly string[] | undefined;
  /** A resolver to use instead of a new `node:dns` `Resolver`. */
  resolver?: DnsResolver | undefined;
  /**
   * Maps a service name to the DNS name to look up, e.g.
   * `(s) => \`_http._tcp.${s}.default.svc.cluster.local\``. Default: the service name itself.
   */
  hostname?: ((service: string) => string) | undefined;
  /** Port of every address in `'a'` mode. Default `80`. */
  port?: number | undefined;
  /** Address families to look up: `4` (A), `6` (AAAA) or `0` (both). Default `0`. */
  family?: 0 | 4 | 6 | undefined;
  /** Shortest time between two lookups of a watched name, in ms (a TTL of 0 means this). Default `1000`. */
  minRefreshMs?: number | undefined;
  /** Longest time between two lookups of a watched name, in ms, whatever the TTL. Default `30000`. */
  maxRefreshMs?: number | undefined;
  /** Timeout of one DNS query of the resolver this registry creates, in ms. Default `2000`. */
  timeoutMs?: number | undefined;
  /** First back-off after a failed lookup in a watch, in ms; doubles per failure. Default `250`. */
  backoffBaseMs?: number | undefined;
  /** Longest back-off after failed lookups, in ms. Default `10000`. */
  backoffMaxMs?: number | undefined;
  /** Time source of a watch's timers (tests pass a manual clock). Default: the system clock. */
  clock?: Clock | undefined;
}

const schema = o.object({
  mode: o.oneOf(['srv', 'a'] as const).default('srv'),
  servers: o.array(o.string({ minLength: 1 }), { minLength: 1 }).optional(),
  resolver: o
    .custom<DnsResolver>(
      (value) =>
        typeof value === 'object' &&
        value !== null &&
        typeof (value as DnsResolver).resolveSrv === 'function' &&
        typeof (value as DnsResolver).resolve4 === 'function' &&
        typeof (value as DnsResolver).resolve6 === 'function',
      'a resolver with resolveSrv(), resolve4() and resolve6() (node:dns/promises Resolver)',
    )
    .optional(),
  hostname: o.fn<(service: string) => string>().optional(),
  port: o.integer({ min: 1, max: 65_535 }).default(80),
  family: o.oneOf([0, 4, 6] as const).default(0),
  minRefreshMs: o.integer({ min: 0 }).default(1000),
  maxRefreshMs: o.integer({ min: 1 }).default(30_000),
  timeoutMs: o.integer({ min: 1 }).default(2000),
  backoffBaseMs: o.integer({ min: 1 }).default(250),
  backoffMaxMs: o.integer({ min: 1 }).default(10_000),
  clock: o.clock<Clock>().default(systemClock),
});

type Options = ReturnType<typeof schema.parse>;

/**
 * A {@link Registry} read from DNS: SRV records, or A/AAAA records with a fixed port — what a
 * Kubernetes headless service publishes. A watched name is looked up again when its records' TTL
 * runs out (between `minRefreshMs` and `maxRefreshMs`). DNS is read-only: `register()` rejects
 * with `REGISTRATION_UNSUPPORTED` (the platform registers pods; use `register()` with another
 * registry if the service must register itself).
 *
 * @example
 * const registry = dnsRegistry({
 *   mode: 'srv',
 *   hostname: (service) => `_http._tcp.${service}.shop.svc.cluster.local`,
 * });
 */
export function dnsRegistry(options: DnsRegistryOptions = {}): Registry {
  const opts = parseOptions(schema, options, {
    factory: 'dnsRegistry()',
    error: InvalidOptionsError,
  });
  if (opts.minRefreshMs > opts.maxRefreshMs) {
    throw new InvalidOptionsError({
      option: 'minRefreshMs',
      received: opts.minRefreshMs,
      message: `dnsRegistry(): option "minRefreshMs" must be at most "maxRefreshMs" (${opts.maxRefreshMs}) (got ${opts.minRefreshMs}).`,
    });
  }
  let resolver = opts.resolver;
  const owned = resolver === undefined;
  if (resolver === undefined) {
    const created = new Resolver({ timeout: opts.timeoutMs, tries: 2 });
    if (opts.servers !== undefined) {
      try {
        created.setServers(opts.servers);
      } catch (error) {
        throw new InvalidOptionsError({
          option: 'servers',
          received: opts.servers,
          message: `dnsRegistry(): option "servers" must be IP addresses with optional ports, like "10.96.0.10" or "127.0.0.1:5353" (${(error as Error).message}).`,
        });
      }
    }
    resolver = created;
  }
  return new DnsRegistry(resolver, owned, opts);
}

/** DNS answers that mean "no such name" or "no records of that type": an empty list, not an outage. */
const NOT_FOUND = new Set(['ENOTFOUND', 'ENODATA', 'NOTFOUND', 'NODATA']);

function isNotFound(error: unknown): boolean {
  return NOT_FOUND.has(String((error as { code?: unknown } | null)?.code));
}

/** One lookup: the instances, and how long they may be kept (the smallest TTL, in seconds). */
interface Lookup {
  instances: readonly Instance[];
  ttlSeconds: number | undefined;
}

class DnsRegistry implements Registry {
  readonly kind = 'dns';
  readonly #resolver: DnsResolver;
  readonly #owned: boolean;
  readonly #opts: Options;
  readonly #watches = new Set<() => void>();
  #closed = false;

  constructor(resolver: DnsResolver, owned: boolean, opts: Options) {
    this.#resolver = resolver;
    this.#owned = owned;
    this.#opts = opts;
  }

  #checkOpen(): void {
    if (this.#closed) throw new RegistryUnavailableError('dns', 'the registry was closed');
  }

  async register(
    _instance: InstanceInput,
    _options?: { signal?: AbortSignal | undefined },
  ): Promise<RegisteredInstance> {
    throw new RegistrationUnsupportedError('dns');
  }

  /** A/AAAA records of `name`, with their TTLs; `[]` when the name has none. */
  async #addresses(name: string): Promise<DnsAddressRecord[]> {
    if (isIP(name) !== 0) return [{ address: name, ttl: Number.POSITIVE_INFINITY }];
    const { family } = this.#opts;
    const lookups: Promise<DnsAddressRecord[]>[] = [];
    const tolerant = (promise: Promise<DnsAddressRecord[]>): Promise<DnsAddressRecord[]> =>
      promise.catch((error: unknown) => {
        if (isNotFound(error)) return [];
        throw error;
      });
    if (family !== 6) lookups.push(tolerant(this.#resolver.resolve4(name, { ttl: true })));
    if (family !== 4) lookups.push(tolerant(this.#resolver.resolve6(name, { ttl: true })));
    return (await Promise.all(lookups)).flat();
  }

  async #lookup(service: string, report: (error: DiscoveryError) => void): Promise<Lookup> {
    const name = this.#opts.hostname ? this.#opts.hostname(service) : service;
    let ttl: number | undefined;
    const keep = (seconds: number): void => {
      if (Number.isFinite(seconds) && (ttl === undefined || seconds < ttl)) ttl = seconds;
    };
    const candidates: Record<string, unknown>[] = [];
    if (this.#opts.mode === 'a') {
      const addresses = await this.#addresses(name);
      for (const { address, ttl: seconds } of addresses) {
        keep(seconds);
        candidates.push({ address, port: this.#opts.port });
      }
    } else {
      let records: DnsSrvRecord[];
      try {
        records = await this.#resolver.resolveSrv(name);
      } catch (error) {
        if (isNotFound(error)) return { instances: Object.freeze([]), ttlSeconds: undefined };
        throw error;
      }
      // RFC 2782: a client uses the targets of the lowest priority that has any.
      const valid = records.filter(
        (r) => typeof r?.priority === 'number' && typeof r.name === 'string',
      );
      const lowest = Math.min(...valid.map((r) => r.priority));
      const chosen = valid.filter((r) => r.priority === lowest && r.name !== '.' && r.name !== '');
      const resolved = await Promise.all(
        chosen.map(async (record) => ({ record, addresses: await this.#addresses(record.name) })),
      );
      for (const { record, addresses } of resolved) {
        if (addresses.length === 0) {
          report(
            new InvalidInstanceError(
              'address',
              `The SRV target "${record.name}" of "${name}" has no A/AAAA record; skipped.`,
              record.name,
            ),
          );
          continue;
        }
        for (const { address, ttl: seconds } of addresses) {
          keep(seconds);
          candidates.push({
            address,
            port: record.port,
            weight: record.weight > 0 ? record.weight : 1,
            meta: { target: record.name },
          });
        }
      }
    }
    const out: Instance[] = [];
    const seen = new Set<string>();
    for (const candidate of candidates) {
      try {
        const instance = normalizeInstance({ ...candidate, service }, service);
        if (seen.has(instance.id)) continue;
        seen.add(instance.id);
        out.push(instance);
      } catch (error) {
        if (error instanceof InvalidInstanceError) report(error);
        else throw error;
      }
    }
    return { instances: Object.freeze(out.sort(byId)), ttlSeconds: ttl };
  }

  #unavailable(service: string, cause: unknown): RegistryUnavailableError {
    const code = (cause as { code?: unknown } | null)?.code;
    const message = cause instanceof Error ? cause.message : String(cause);
    return new RegistryUnavailableError(
      'dns',
      `looking up service "${service}" failed: ${typeof code === 'string' ? `${code} ` : ''}${message}`,
      { cause },
    );
  }

  async list(
    service: string,
    options?: { signal?: AbortSignal | undefined },
  ): Promise<readonly Instance[]> {
    this.#checkOpen();
    const report = (error: DiscoveryError): void => countRegistryError('dns', service, error);
    try {
      const { instances } = await raceAbort(this.#lookup(service, report), options?.signal);
      return instances;
    } catch (error) {
      if (options?.signal?.aborted) throw error;
      const wrapped = this.#unavailable(service, error);
      report(wrapped);
      throw wrapped;
    }
  }

  watch(service: string, events: WatchEvents): Subscription {
    this.#checkOpen();
    const opts = this.#opts;
    const clock = opts.clock;
    let stopped = false;
    let timer: unknown;
    let failures = 0;
    let last: string | undefined;
    const report = (error: DiscoveryError): void => {
      countRegistryError('dns', service, error);
      if (!stopped) events.onError(error);
    };
    const schedule = (ms: number): void => {
      if (!stopped) timer = unrefTimer(clock.setTimeout(run, ms));
    };
    const run = (): void => {
      timer = undefined;
      if (stopped) return;
      this.#lookup(service, report).then(
        ({ instances, ttlSeconds }) => {
          if (stopped) return;
          failures = 0;
          const signature = listSignature(instances);
          if (signature !== last) {
            last = signature;
            events.onInstances(instances);
          }
          const ttlMs = ttlSeconds === undefined ? opts.maxRefreshMs : ttlSeconds * 1000;
          schedule(Math.min(opts.maxRefreshMs, Math.max(opts.minRefreshMs, ttlMs)));
        },
        (error: unknown) => {
          if (stopped) return;
          failures += 1;
          // The next good lookup is pushed even if unchanged: the consumer learns DNS is back.
          last = undefined;
          report(this.#unavailable(service, error));
          schedule(backoffMs(failures, opts.backoffBaseMs, opts.backoffMaxMs));
        },
      );
    };
    const stop = (): void => {
      stopped = true;
      if (timer !== undefined) clock.clearTimeout(timer);
      this.#watches.delete(stop);
    };
    this.#watches.add(stop);
    queueMicrotask(run);
    return subscription(stop);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const stop of [...this.#watches]) stop();
    // Only a resolver this registry created: a resolver passed in may serve other lookups too.
    if (this.#owned) this.#resolver.cancel?.();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
