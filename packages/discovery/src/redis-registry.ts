import { createHash } from 'node:crypto';
import {
  type Clock,
  o,
  parseOptions,
  type Subscription,
  systemClock,
  unrefTimer,
} from '@ballast/kernel';
import type { Redis } from 'ioredis';
import {
  type DiscoveryError,
  InvalidInstanceError,
  InvalidOptionsError,
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
  requirePeer,
  subscription,
} from './registry-support.ts';

/** Options of {@link redisRegistry}. */
export interface RedisRegistryOptions {
  /**
   * An ioredis `Redis` client you own (the registry never closes it; it opens one extra connection,
   * `client.duplicate()`, for pub/sub, and closes that one). Give either `client` or `url`.
   */
  client?: Redis | undefined;
  /** A Redis URL (`redis://127.0.0.1:6379`); the registry creates and closes its own clients. */
  url?: string | undefined;
  /** Prefix of every key and channel. Default `'ballast:discovery:'`. */
  prefix?: string | undefined;
  /**
   * How long an instance stays listed without a heartbeat, in ms: a process that crashed or froze
   * disappears after this long. `register()` heartbeats every `ttlMs / 3`. Default `10000`.
   */
  ttlMs?: number | undefined;
  /**
   * How often a watch re-reads the list even without a notification, in ms (a safety net for
   * notifications lost while a connection was down). Default `30000`.
   */
  resyncMs?: number | undefined;
  /** Longest wait for one Redis command before it counts as `REGISTRY_UNAVAILABLE`, in ms. Default `2000`. */
  timeoutMs?: number | undefined;
  /** First back-off after a failed read in a watch, in ms; doubles per failure. Default `100`. */
  backoffBaseMs?: number | undefined;
  /** Longest back-off after failed reads, in ms. Default `5000`. */
  backoffMaxMs?: number | undefined;
  /** Time source of a watch's timers (tests pass a manual clock). Default: the system clock. */
  clock?: Clock | undefined;
}

const schema = o.object({
  client: o
    .custom<Redis>(
      (value) =>
        typeof value === 'object' &&
        value !== null &&
        typeof (value as { evalsha?: unknown }).evalsha === 'function' &&
        typeof (value as { duplicate?: unknown }).duplicate === 'function',
      'an ioredis Redis client',
    )
    .optional(),
  url: o
    .string({
      pattern: { regex: /^rediss?:\/\/\S*$/, expected: 'a redis:// or rediss:// URL' },
    })
    .optional(),
  prefix: o.string({ maxLength: 200 }).default('ballast:discovery:'),
  ttlMs: o.integer({ min: 100, max: 24 * 3_600_000 }).default(10_000),
  resyncMs: o.integer({ min: 100 }).default(30_000),
  timeoutMs: o.integer({ min: 1 }).default(2000),
  backoffBaseMs: o.integer({ min: 1 }).default(100),
  backoffMaxMs: o.integer({ min: 1 }).default(5000),
  clock: o.clock<Clock>().default(systemClock),
});

type Options = ReturnType<typeof schema.parse>;

// Per service, with a hash tag so that every key of a service is in one Cluster slot:
//   <prefix>{<service>}:expiry   sorted set: instance id -> expiry time (Redis server ms)
//   <prefix>{<service>}:records  hash: instance id -> JSON record
//   <prefix>{<service>}:changes  pub/sub channel: a message on every change
// Expiry is decided by Redis's own clock (TIME), so processes with skewed clocks agree.

const NOW = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`;

/** Adds or renews an instance; publishes when it is new, came back, or its record changed. */
const UPSERT = `${NOW}
local ttl = tonumber(ARGV[3])
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
local old = redis.call('HGET', KEYS[2], ARGV[1])
local changed = (not score) or tonumber(score) <= now or old ~= ARGV[2]
redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
local keepUntil = tonumber(last[2]) + 60000
redis.call('PEXPIREAT', KEYS[1], keepUntil)
redis.call('PEXPIREAT', KEYS[2], keepUntil)
if changed then redis.call('PUBLISH', ARGV[4], ARGV[1]) end
return changed and 1 or 0`;

/** Removes an instance; publishes when it was there. */
const REMOVE = `local removed = redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
if removed == 1 then redis.call('PUBLISH', ARGV[2], ARGV[1]) end
return removed`;

/**
 * Drops expired instances (publishing when it did), then returns the server time and, per live
 * instance, its id, expiry and record.
 */
const LIST = `${NOW}
local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now)
if #expired > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
  for i = 1, #expired do redis.call('HDEL', KEYS[2], expired[i]) end
  redis.call('PUBLISH', ARGV[1], 'expired')
end
local live = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
local out = { tostring(now) }
for i = 1, #live, 2 do
  out[#out + 1] = live[i]
  out[#out + 1] = live[i + 1]
  out[#out + 1] = redis.call('HGET', KEYS[2], live[i]) or ''
end
return out`;

interface Script {
  readonly source: string;
  readonly sha: string;
}

function script(source: string): Script {
  return { source, sha: createHash('sha1').update(source).digest('hex') };
}

const SCRIPTS = { upsert: script(UPSERT), remove: script(REMOVE), list: script(LIST) };

/**
 * A {@link Registry} on Redis through ioredis (an optional peer: `npm install ioredis`), the
 * embedded default that runs wherever Redis does. Each instance is a record with an expiry that
 * heartbeats renew, so a crashed process drops out after `ttlMs`; watches are told of changes by
 * pub/sub (no `KEYS` or scans) and notice expiries on their own timers.
 *
 * @example
 * const registry = redisRegistry({ url: process.env.REDIS_URL });
 */
export function redisRegistry(options: RedisRegistryOptions = {}): Registry {
  const opts = parseOptions(schema, options, {
    factory: 'redisRegistry()',
    error: InvalidOptionsError,
  });
  if (opts.client !== undefined && opts.url !== undefined) {
    throw new InvalidOptionsError({
      option: 'url',
      received: opts.url,
      message:
        'redisRegistry(): give either option "client" (a client you own) or option "url", not both.',
    });
  }
  let client = opts.client;
  let owned = false;
  if (client === undefined) {
    const ioredis = requirePeer('ioredis') as { Redis: new (url: string) => Redis } | undefined;
    if (ioredis === undefined) {
      throw new InvalidOptionsError({
        option: 'url',
        received: opts.url,
        message:
          'redisRegistry(): the "ioredis" package is not installed; run `npm install ioredis`, or pass a client as option "client".',
      });
    }
    client = new ioredis.Redis(opts.url ?? 'redis://127.0.0.1:6379');
    // Connection errors reach callers as REGISTRY_UNAVAILABLE (and watches through onError); the
    // listener only keeps ioredis from printing each reconnect attempt.
    client.on('error', () => {});
    owned = true;
  }
  return new RedisRegistry(client, owned, opts);
}

/** A record as stored in the hash. */
interface StoredRecord {
  id: string;
  service: string;
  address: string;
  port: number;
  tags: readonly string[];
  meta: Readonly<Record<string, string>>;
  zone?: string | undefined;
  weight: number;
  draining: boolean;
}

function toRecord(instance: Instance, draining: boolean): string {
  const record: StoredRecord = {
    id: instance.id,
    service: instance.service,
    address: instance.address,
    port: instance.port,
    tags: instance.tags,
    meta: instance.meta,
    zone: instance.zone,
    weight: instance.weight,
    draining,
  };
  return JSON.stringify(record);
}

/** One watched service: reads on notification, on its earliest expiry, and every `resyncMs`. */
interface ServiceWatch {
  readonly service: string;
  refresh(): void;
  /** Reports an outage of the notification connection (the next read reports its own). */
  report(error: DiscoveryError): void;
  stop(): void;
}

class RedisRegistry implements Registry {
  readonly kind = 'redis';
  readonly #client: Redis;
  readonly #owned: boolean;
  readonly #opts: Options;
  readonly #watches = new Map<string, Set<ServiceWatch>>();
  readonly #registrations = new Set<() => Promise<void>>();
  #subscriber: Redis | undefined;
  #closed = false;

  constructor(client: Redis, owned: boolean, opts: Options) {
    this.#client = client;
    this.#owned = owned;
    this.#opts = opts;
  }

  #keys(service: string): [expiry: string, records: string, channel: string] {
    const base = `${this.#opts.prefix}{${service}}`;
    return [`${base}:expiry`, `${base}:records`, `${base}:changes`];
  }

  #checkOpen(): void {
    if (this.#closed) throw new RegistryUnavailableError('redis', 'the registry was closed');
  }

  #fail(what: string, service: string, cause: unknown): RegistryUnavailableError {
    const message = cause instanceof Error ? cause.message : String(cause);
    const error = new RegistryUnavailableError('redis', `${what} failed: ${message}`, { cause });
    countRegistryError('redis', service, error);
    return error;
  }

  /** Runs a script (EVALSHA, loading it on NOSCRIPT), bounded by `timeoutMs` and `signal`. */
  async #run(
    which: Script,
    keys: readonly string[],
    args: readonly (string | number)[],
    signal?: AbortSignal | undefined,
  ): Promise<unknown> {
    signal?.throwIfAborted();
    const call = async (): Promise<unknown> => {
      try {
        return await this.#client.evalsha(which.sha, keys.length, ...keys, ...args);
      } catch (error) {
        if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
        return await this.#client.eval(which.source, keys.length, ...keys, ...args);
      }
    };
    const { timeoutMs } = this.#opts;
    return await new Promise<unknown>((resolve, reject) => {
      const timer = setTimeout(() => {
        finish();
        reject(new Error(`no answer from Redis within ${timeoutMs} ms`));
      }, timeoutMs);
      const onAbort = (): void => {
        finish();
        reject(signal?.reason);
      };
      const finish = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      call().then(
        (value) => {
          finish();
          resolve(value);
        },
        (error: unknown) => {
          finish();
          reject(error);
        },
      );
    });
  }

  async register(
    input: InstanceInput,
    options?: { signal?: AbortSignal | undefined },
  ): Promise<RegisteredInstance> {
    this.#checkOpen();
    const instance = normalizeInstance(input);
    const { service, id } = instance;
    const [expiry, records, channel] = this.#keys(service);
    const { ttlMs } = this.#opts;
    let draining = false;
    let registered = true;
    const upsert = async (signal: AbortSignal | undefined, what: string): Promise<void> => {
      try {
        await this.#run(
          SCRIPTS.upsert,
          [expiry, records],
          [id, toRecord(instance, draining), ttlMs, channel],
          signal,
        );
      } catch (error) {
        if (signal?.aborted) throw error;
        throw this.#fail(what, service, error);
      }
    };
    await upsert(options?.signal, 'registering');
    const cleanup = async (signal?: AbortSignal | undefined): Promise<void> => {
      if (!registered) return;
      registered = false;
      this.#registrations.delete(cleanup);
      try {
        await this.#run(SCRIPTS.remove, [expiry, records], [id, channel], signal);
      } catch (error) {
        if (signal?.aborted) throw error;
        throw this.#fail('deregistering', service, error);
      }
    };
    this.#registrations.add(cleanup);
    return {
      instance,
      heartbeatIntervalMs: Math.max(1, Math.floor(ttlMs / 3)),
      heartbeat: async (o2) => {
        if (!registered) return;
        await upsert(o2?.signal, 'heartbeat');
      },
      setDraining: async (next) => {
        if (!registered || draining === next) return;
        const before = draining;
        draining = next;
        try {
          await upsert(undefined, 'setting the draining flag');
        } catch (error) {
          draining = before;
          throw error;
        }
      },
      deregister: (o2) => cleanup(o2?.signal),
    } satisfies RegisteredInstance & { heartbeatIntervalMs: number };
  }

  /** Reads a service: its instances, the server time, and the earliest expiry. */
  async #read(
    service: string,
    report: (error: DiscoveryError) => void,
    signal?: AbortSignal | undefined,
  ): Promise<{ instances: readonly Instance[]; nextExpiryInMs: number | undefined }> {
    const [expiry, records, channel] = this.#keys(service);
    const reply = (await this.#run(SCRIPTS.list, [expiry, records], [channel], signal)) as string[];
    const now = Number(reply[0]);
    const out: Instance[] = [];
    let earliest: number | undefined;
    for (let i = 1; i + 2 < reply.length; i += 3) {
      const id = reply[i]!;
      const expiresAt = Number(reply[i + 1]);
      const raw = reply[i + 2] ?? '';
      if (earliest === undefined || expiresAt < earliest) earliest = expiresAt;
      try {
        out.push(parseRecord(service, id, raw));
      } catch (error) {
        if (error instanceof InvalidInstanceError) report(error);
        else throw error;
      }
    }
    return {
      instances: Object.freeze(out.sort(byId)),
      nextExpiryInMs: earliest === undefined ? undefined : Math.max(0, earliest - now),
    };
  }

  async list(
    service: string,
    options?: { signal?: AbortSignal | undefined },
  ): Promise<readonly Instance[]> {
    this.#checkOpen();
    try {
      const { instances } = await this.#read(
        service,
        (error) => countRegistryError('redis', service, error),
        options?.signal,
      );
      return instances;
    } catch (error) {
      if (options?.signal?.aborted) throw error;
      throw this.#fail(`reading service "${service}"`, service, error);
    }
  }

  /** The shared pub/sub connection, created on the first watch. */
  #subscriberConnection(): Redis {
    if (this.#subscriber) return this.#subscriber;
    const subscriber = this.#client.duplicate();
    subscriber.on('message', (channel: string) => {
      const service = this.#channels.get(channel);
      if (service === undefined) return;
      for (const watch of this.#watches.get(service) ?? []) watch.refresh();
    });
    // After a reconnect ioredis subscribes again by itself, but notifications sent meanwhile are
    // lost: read every watched service once more.
    let connectedBefore = false;
    let outage = false;
    subscriber.on('ready', () => {
      if (connectedBefore) {
        for (const watches of this.#watches.values()) for (const watch of watches) watch.refresh();
      }
      connectedBefore = true;
      outage = false;
    });
    // A lost connection is reported to every watch once per outage: their lists may go stale.
    subscriber.on('close', () => {
      if (this.#closed || !connectedBefore || outage) return;
      outage = true;
      for (const watches of this.#watches.values()) {
        for (const watch of watches) {
          watch.report(
            new RegistryUnavailableError(
              'redis',
              `lost the connection to Redis that notifies changes of service "${watch.service}"; reconnecting`,
            ),
          );
        }
      }
    });
    // Errors surface through the watches' reads; an 'error' listener keeps ioredis from logging.
    subscriber.on('error', () => {});
    this.#subscriber = subscriber;
    return subscriber;
  }

  readonly #channels = new Map<string, string>();
  /** Per channel, the SUBSCRIBE that every watch of its service waits for. */
  readonly #subscribed = new Map<string, Promise<void>>();

  watch(service: string, events: WatchEvents): Subscription {
    this.#checkOpen();
    const opts = this.#opts;
    const clock = opts.clock;
    const [, , channel] = this.#keys(service);
    let stopped = false;
    let running = false;
    let again = false;
    let timer: unknown;
    let failures = 0;
    let last: string | undefined;
    let ready = false;

    const report = (error: DiscoveryError): void => {
      countRegistryError('redis', service, error);
      if (!stopped) events.onError(error);
    };
    const schedule = (ms: number): void => {
      if (stopped) return;
      if (timer !== undefined) clock.clearTimeout(timer);
      timer = unrefTimer(clock.setTimeout(refresh, ms));
    };
    const refresh = (): void => {
      if (stopped || !ready) return;
      if (running) {
        again = true;
        return;
      }
      running = true;
      again = false;
      void this.#read(service, report).then(
        ({ instances, nextExpiryInMs }) => {
          running = false;
          if (stopped) return;
          failures = 0;
          const signature = listSignature(instances);
          if (signature !== last) {
            last = signature;
            events.onInstances(instances);
          }
          if (again) {
            refresh();
            return;
          }
          // Wake up just after the earliest expiry (a crashed instance sends no notification),
          // or at the resync period, whichever comes first.
          const next =
            nextExpiryInMs === undefined
              ? opts.resyncMs
              : Math.min(opts.resyncMs, nextExpiryInMs + 1);
          schedule(next);
        },
        (error: unknown) => {
          running = false;
          if (stopped) return;
          failures += 1;
          // The next good read is pushed even if unchanged: the consumer learns Redis is back.
          last = undefined;
          const message = error instanceof Error ? error.message : String(error);
          const wrapped = new RegistryUnavailableError(
            'redis',
            `watching service "${service}" failed: ${message}`,
            { cause: error },
          );
          report(wrapped);
          schedule(backoffMs(failures, opts.backoffBaseMs, opts.backoffMaxMs));
        },
      );
    };
    const watch: ServiceWatch = {
      service,
      refresh,
      report: (error) => {
        last = undefined; // an outage: push the next good read even if unchanged
        report(error);
      },
      stop: () => {
        stopped = true;
        if (timer !== undefined) clock.clearTimeout(timer);
      },
    };

    let watches = this.#watches.get(service);
    if (!watches) {
      watches = new Set();
      this.#watches.set(service, watches);
    }
    watches.add(watch);
    this.#channels.set(channel, service);
    const subscriber = this.#subscriberConnection();
    // Subscribe before the first read, so a change between the two is not missed; but never wait
    // longer than timeoutMs for it (Redis may be down): then read anyway, and report.
    let subscribed = this.#subscribed.get(channel);
    if (subscribed === undefined) {
      subscribed = subscriber.subscribe(channel).then(() => undefined);
      this.#subscribed.set(channel, subscribed);
      subscribed.catch(() => {
        if (this.#subscribed.get(channel) === subscribed) this.#subscribed.delete(channel);
      });
    }
    let started = false;
    const start = (error?: unknown): void => {
      clearTimeout(waiting);
      if (started) {
        refresh(); // subscribed after all: read once more, a change may have been missed
        return;
      }
      started = true;
      ready = true;
      if (error !== undefined) {
        report(
          new RegistryUnavailableError(
            'redis',
            `subscribing to changes of service "${service}" failed: ${error instanceof Error ? error.message : String(error)}`,
            { cause: error },
          ),
        );
      }
      refresh();
    };
    const waiting = unrefTimer(
      setTimeout(
        () => start(new Error(`no answer from Redis within ${opts.timeoutMs} ms`)),
        opts.timeoutMs,
      ),
    );
    subscribed.then(
      () => start(),
      (error: unknown) => start(error ?? new Error('SUBSCRIBE failed')),
    );

    return subscription(() => {
      watch.stop();
      const set = this.#watches.get(service);
      set?.delete(watch);
      if (set && set.size === 0) {
        this.#watches.delete(service);
        this.#channels.delete(channel);
        this.#subscribed.delete(channel);
        if (!this.#closed) this.#subscriber?.unsubscribe(channel).catch(() => {});
      }
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const watches of this.#watches.values()) for (const watch of watches) watch.stop();
    this.#watches.clear();
    this.#channels.clear();
    await Promise.all([...this.#registrations].map((cleanup) => cleanup().catch(() => {})));
    this.#subscriber?.disconnect();
    if (this.#owned) {
      // QUIT waits for an answer: only ask a connected client, and never wait long.
      if (this.#client.status === 'ready') {
        // The bound is ref'd (close() is awaited) and cleared as soon as QUIT answers.
        let bound: NodeJS.Timeout | undefined;
        await Promise.race([
          this.#client.quit().catch(() => {}),
          new Promise((resolve) => {
            bound = setTimeout(resolve, this.#opts.timeoutMs);
          }),
        ]);
        clearTimeout(bound);
      }
      this.#client.disconnect();
    }
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** Parses one stored record; anything malformed is an `INVALID_INSTANCE` for that record only. */
function parseRecord(service: string, id: string, raw: string): Instance {
  let record: unknown;
  try {
    record = JSON.parse(raw);
  } catch {
    throw new InvalidInstanceError(
      '',
      `The Redis record of instance "${id}" of service "${service}" is not valid JSON; skipped.`,
      raw.length > 60 ? `${raw.slice(0, 60)}…` : raw,
    );
  }
  if (typeof record !== 'object' || record === null || Array.isArray(record)) {
    throw new InvalidInstanceError(
      '',
      `The Redis record of instance "${id}" of service "${service}" is not an object; skipped.`,
      record,
    );
  }
  const { draining, ...rest } = record as Record<string, unknown>;
  if (rest.id !== id) {
    throw new InvalidInstanceError(
      'id',
      `The Redis record stored as instance "${id}" of service "${service}" names another id; skipped.`,
      rest.id,
    );
  }
  return normalizeInstance({ ...rest, healthy: draining !== true }, service);
}
