import { EventEmitter } from 'node:events';
import {
  type Clock,
  o,
  parseOptions,
  type Subscription,
  systemClock,
  unrefTimer,
} from '@ballast/kernel';
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
  goDuration,
  listSignature,
  requirePeer,
  subscription,
  TokenBucket,
} from './registry-support.ts';

/**
 * The part of a `consul` (node-consul 2.x) client this registry uses. Pass a `new Consul(…)` you
 * configured yourself (TLS agent, defaults) as `client`; the registry never destroys a client it
 * did not create.
 */
export interface ConsulClient {
  agent: {
    service: {
      register(options: object): Promise<unknown>;
      deregister(options: object): Promise<unknown>;
      maintenance(options: object): Promise<unknown>;
    };
    check: {
      pass(options: object): Promise<unknown>;
    };
  };
  health: {
    service(options: object): Promise<unknown>;
  };
  destroy(): void;
}

/** An HTTP health check that Consul's agent runs against the instance, instead of a TTL check. */
export interface ConsulHttpCheck {
  /** The URL the agent polls, e.g. `http://10.0.0.5:8080/health`; a 2xx answer is passing. */
  url: string;
  /** How often the agent polls, in ms. Default `10000`. */
  intervalMs?: number | undefined;
  /** How long one poll may take, in ms. Default `5000`. */
  timeoutMs?: number | undefined;
}

/** Options of {@link consulRegistry}. */
export interface ConsulRegistryOptions {
  /**
   * A `consul` client you created (`new Consul({ host, port, secure, agent })`). When omitted the
   * registry creates one from `host`, `port` and `secure`, and destroys it on `close()`.
   */
  client?: ConsulClient | undefined;
  /** Host of the Consul agent's HTTP API. Default `'127.0.0.1'`. Ignored with `client`. */
  host?: string | undefined;
  /** Port of the Consul agent's HTTP API. Default `8500`. Ignored with `client`. */
  port?: number | undefined;
  /** Talk HTTPS to the agent. Default `false`. Ignored with `client`. */
  secure?: boolean | undefined;
  /** ACL token sent with every request (`X-Consul-Token`). Default: the agent's default token. */
  token?: string | undefined;
  /** Datacenter whose instances `list()` and `watch()` read. Default: the agent's own. */
  datacenter?: string | undefined;
  /**
   * Consistency mode of `list()` and `watch()` reads (Consul's consistency modes): `'default'`
   * (the leader answers), `'stale'` (any server answers: spreads the load of many watchers, at the
   * price of data a little behind the leader) or `'consistent'`. Default `'default'`.
   */
  consistency?: 'default' | 'stale' | 'consistent' | undefined;
  /**
   * Refuse answers from a server that has not heard from the leader for longer than this, in ms
   * (`X-Consul-LastContact`), or that knows no leader (`X-Consul-KnownLeader: false`): they count
   * as `REGISTRY_UNAVAILABLE` and the last good list stays in use. Mostly for
   * `consistency: 'stale'`. Default: no limit.
   */
  maxLastContactMs?: number | undefined;
  /**
   * TTL of the check registered with each instance, in ms: Consul marks the instance critical when
   * no heartbeat (`agent.check.pass`) arrived for this long. `register()` heartbeats every
   * `ttlMs / 3`. Default `15000`. Ignored when `httpCheck` is given.
   */
  ttlMs?: number | undefined;
  /** Register an HTTP check that the agent runs, instead of a TTL check the service renews. */
  httpCheck?: ConsulHttpCheck | undefined;
  /**
   * How long an instance may stay critical before Consul removes it (`DeregisterCriticalServiceAfter`):
   * the clean-up of a crashed process. Consul's minimum is one minute. Default `60000`.
   */
  deregisterCriticalAfterMs?: number | undefined;
  /**
   * List only instances whose checks all pass (`/v1/health/service/:name?passing`), so a failing or
   * draining instance leaves the list. `false` lists every instance, with `healthy` telling whether
   * all its checks pass. Default `true`.
   */
  passingOnly?: boolean | undefined;
  /**
   * Longest wait for the agent's answer to a request other than a blocking query (register,
   * heartbeat, drain, deregister, `list()`), in ms; then `REGISTRY_UNAVAILABLE`. Default `10000`.
   */
  timeoutMs?: number | undefined;
  /** Longest a blocking query waits for a change, in ms (Consul caps it at 10 minutes). Default `60000`. */
  waitMs?: number | undefined;
  /**
   * Blocking-query loops allowed back to back before the watch slows to one per `watchIntervalMs`
   * (a token bucket, as Consul recommends for results that churn). Default `2`.
   */
  watchBurst?: number | undefined;
  /** Steady rate of a churning watch: at most one query per this many ms. Default `1000`. */
  watchIntervalMs?: number | undefined;
  /** First back-off after a failed query, in ms; doubles per failure. Default `250`. */
  backoffBaseMs?: number | undefined;
  /** Longest back-off after failed queries, in ms. Default `30000`. */
  backoffMaxMs?: number | undefined;
  /** Service (then node) meta key that holds an instance's zone. Default `'zone'`. */
  zoneMetaKey?: string | undefined;
  /** Time source of back-offs and rate limits (tests pass a manual clock). Default: the system clock. */
  clock?: Clock | undefined;
}

const MINUTE = 60_000;

const schema = o.object({
  client: o
    .custom<ConsulClient>(
      (value) =>
        typeof value === 'object' &&
        value !== null &&
        typeof (value as { health?: { service?: unknown } }).health?.service === 'function' &&
        typeof (value as { agent?: unknown }).agent === 'object',
      'a consul client (new Consul(…) from the "consul" package)',
    )
    .optional(),
  host: o.string({ minLength: 1 }).default('127.0.0.1'),
  port: o.integer({ min: 1, max: 65_535 }).default(8500),
  secure: o.boolean().default(false),
  token: o.string({ minLength: 1 }).optional(),
  datacenter: o.string({ minLength: 1 }).optional(),
  consistency: o.oneOf(['default', 'stale', 'consistent'] as const).default('default'),
  maxLastContactMs: o.integer({ min: 0 }).optional(),
  ttlMs: o.integer({ min: 1000, max: 24 * 60 * MINUTE }).default(15_000),
  httpCheck: o
    .object({
      url: o.string({
        pattern: { regex: /^https?:\/\/\S+$/, expected: 'an http:// or https:// URL' },
      }),
      intervalMs: o.integer({ min: 1000 }).default(10_000),
      timeoutMs: o.integer({ min: 100 }).default(5000),
    })
    .optional(),
  deregisterCriticalAfterMs: o.integer({ min: MINUTE }).default(MINUTE),
  passingOnly: o.boolean().default(true),
  timeoutMs: o.integer({ min: 1 }).default(10_000),
  waitMs: o.integer({ min: 1000, max: 10 * MINUTE }).default(MINUTE),
  watchBurst: o.integer({ min: 1, max: 100 }).default(2),
  watchIntervalMs: o.integer({ min: 0, max: 10 * MINUTE }).default(1000),
  backoffBaseMs: o.integer({ min: 1 }).default(250),
  backoffMaxMs: o.integer({ min: 1 }).default(30_000),
  zoneMetaKey: o.string({ minLength: 1 }).default('zone'),
  clock: o.clock<Clock>().default(systemClock),
});

type Options = ReturnType<typeof schema.parse>;

/**
 * A {@link Registry} on HashiCorp Consul, through the `consul` npm client (an optional peer:
 * `npm install consul`). Instances are registered with the local agent with a TTL check (renewed
 * by heartbeats) or an HTTP check, and `DeregisterCriticalServiceAfter` so a crashed process is
 * removed; `list()` and `watch()` read `/v1/health/service/:name` with blocking queries.
 *
 * @example
 * const registry = consulRegistry({ host: 'consul.internal', token: process.env.CONSUL_TOKEN });
 */
export function consulRegistry(options: ConsulRegistryOptions = {}): Registry {
  const opts = parseOptions(schema, options, {
    factory: 'consulRegistry()',
    error: InvalidOptionsError,
  });
  let client = opts.client;
  let owned = false;
  if (client === undefined) {
    const Consul = requirePeer('consul') as (new (options: object) => ConsulClient) | undefined;
    if (Consul === undefined) {
      throw new InvalidOptionsError({
        option: 'client',
        received: undefined,
        message:
          'consulRegistry(): the "consul" package is not installed; run `npm install consul`, or pass a client as option "client".',
      });
    }
    client = new Consul({ host: opts.host, port: opts.port, secure: opts.secure });
    owned = true;
  }
  return new ConsulRegistry(client, owned, opts);
}

/** The shape of one entry of `/v1/health/service/:name`, as far as it is read. */
interface HealthEntry {
  Node?: { Address?: unknown; Meta?: unknown } | null;
  Service?: {
    ID?: unknown;
    Service?: unknown;
    Address?: unknown;
    Port?: unknown;
    Tags?: unknown;
    Meta?: unknown;
    Weights?: { Passing?: unknown } | null;
  } | null;
  Checks?: unknown;
}

/** One answer of `/v1/health/service/:name`: its `X-Consul-Index` (if valid) and its body. */
interface QueryResult {
  index: bigint | undefined;
  body: unknown;
  /** Why the answer is too stale to use (`maxLastContactMs`), if it is. */
  stale: string | undefined;
}

/** A node-consul request context: aborts the request on `cancel`; asks for the raw response. */
class RequestContext extends EventEmitter {
  readonly includeResponse: boolean;
  constructor(includeResponse: boolean) {
    super();
    this.includeResponse = includeResponse;
  }
}

/** Runs one node-consul call with a context that the signal cancels. */
async function withSignal<T>(
  signal: AbortSignal | undefined,
  includeResponse: boolean,
  call: (ctx: RequestContext) => Promise<T>,
  cancel?: { ctx?: RequestContext | undefined },
): Promise<T> {
  signal?.throwIfAborted();
  const ctx = new RequestContext(includeResponse);
  const onAbort = (): void => {
    ctx.emit('cancel');
  };
  signal?.addEventListener('abort', onAbort, { once: true });
  if (cancel) cancel.ctx = ctx;
  try {
    return await call(ctx);
  } catch (error) {
    if (signal?.aborted) throw signal.reason;
    throw error;
  } finally {
    signal?.removeEventListener('abort', onAbort);
    if (cancel && cancel.ctx === ctx) cancel.ctx = undefined;
  }
}

function statusOf(error: unknown): number | undefined {
  const status = (error as { statusCode?: unknown } | null)?.statusCode;
  return typeof status === 'number' ? status : undefined;
}

function describeError(error: unknown): string {
  const status = statusOf(error);
  const message = error instanceof Error ? error.message : String(error);
  if (status === undefined) return message;
  // ACL denials look like outages otherwise: say which permissions the token needs.
  const hint =
    status === 403
      ? '; the ACL token (option "token") needs service:write on the service to register, and service:read + node:read to list and watch'
      : '';
  return `HTTP ${status} (${message})${hint}`;
}

class ConsulRegistry implements Registry {
  readonly kind = 'consul';
  readonly #client: ConsulClient;
  readonly #owned: boolean;
  readonly #opts: Options;
  readonly #watches = new Set<() => void>();
  #closed = false;

  constructor(client: ConsulClient, owned: boolean, opts: Options) {
    this.#client = client;
    this.#owned = owned;
    this.#opts = opts;
  }

  #unavailable(what: string, cause: unknown): RegistryUnavailableError {
    return new RegistryUnavailableError('consul', `${what} failed: ${describeError(cause)}`, {
      cause,
    });
  }

  #checkOpen(): void {
    if (this.#closed) throw new RegistryUnavailableError('consul', 'the registry was closed');
  }

  /** Options of every request: the ACL token, and the timeout (a blocking query sets its own). */
  #common(): Record<string, unknown> {
    const common: Record<string, unknown> = { timeout: this.#opts.timeoutMs };
    if (this.#opts.token !== undefined) common.token = this.#opts.token;
    return common;
  }

  async register(
    input: InstanceInput,
    options?: { signal?: AbortSignal | undefined },
  ): Promise<RegisteredInstance> {
    this.#checkOpen();
    const instance = normalizeInstance(input);
    const opts = this.#opts;
    const checkId = `service:${instance.id}`;
    const meta: Record<string, string> = { ...instance.meta };
    if (instance.zone !== undefined) meta[opts.zoneMetaKey] = instance.zone;
    if (instance.weight !== 1) meta.weight = String(instance.weight);
    const check: Record<string, unknown> = {
      checkid: checkId,
      name: `Service '${instance.service}' check`,
      deregistercriticalserviceafter: goDuration(opts.deregisterCriticalAfterMs),
    };
    if (opts.httpCheck) {
      check.http = opts.httpCheck.url;
      check.interval = goDuration(opts.httpCheck.intervalMs);
      check.timeout = goDuration(opts.httpCheck.timeoutMs);
    } else {
      check.ttl = goDuration(opts.ttlMs);
      // A new TTL check starts critical; start it passing, the registration is its first heartbeat.
      check.status = 'passing';
    }
    const definition = {
      ...this.#common(),
      id: instance.id,
      name: instance.service,
      address: instance.address,
      port: instance.port,
      tags: [...instance.tags],
      meta,
      check,
    };
    const doRegister = async (signal: AbortSignal | undefined): Promise<void> => {
      try {
        await withSignal(signal, false, (ctx) =>
          this.#client.agent.service.register({ ...definition, ctx }),
        );
      } catch (error) {
        if (signal?.aborted) throw error;
        throw this.#fail('registering', instance.service, error);
      }
    };
    await doRegister(options?.signal);
    let registered = true;
    let draining = false;
    const cleanup = async (): Promise<void> => {
      if (!registered) return;
      registered = false;
      this.#registrations.delete(cleanup);
      try {
        await this.#client.agent.service.deregister({ ...this.#common(), id: instance.id });
      } catch (error) {
        throw this.#fail('deregistering', instance.service, error);
      }
    };
    this.#registrations.add(cleanup);
    return {
      instance,
      heartbeatIntervalMs: opts.httpCheck ? undefined : Math.max(1, Math.floor(opts.ttlMs / 3)),
      heartbeat: async (o2) => {
        if (!registered || opts.httpCheck) return;
        try {
          await withSignal(o2?.signal, false, (ctx) =>
            this.#client.agent.check.pass({ ...this.#common(), id: checkId, ctx }),
          );
        } catch (error) {
          if (o2?.signal?.aborted) throw error;
          // The agent forgot the check (it restarted without its state, or Consul reaped the
          // critical instance): register again, which also passes the check.
          const status = statusOf(error);
          if (status === 404 || (status === 500 && /unknown check/i.test(describeError(error)))) {
            await doRegister(o2?.signal);
            if (draining) await this.#maintenance(instance, true);
            return;
          }
          throw this.#fail('heartbeat', instance.service, error);
        }
      },
      setDraining: async (next) => {
        if (!registered || draining === next) return;
        await this.#maintenance(instance, next);
        draining = next;
      },
      deregister: async (o2) => {
        o2?.signal?.throwIfAborted();
        await cleanup();
      },
    } satisfies RegisteredInstance & { heartbeatIntervalMs: number | undefined };
  }

  readonly #registrations = new Set<() => Promise<void>>();

  async #maintenance(instance: Instance, enable: boolean): Promise<void> {
    try {
      await this.#client.agent.service.maintenance({
        ...this.#common(),
        id: instance.id,
        enable,
        reason: 'draining: shutting down',
      });
    } catch (error) {
      throw this.#fail('setting maintenance mode', instance.service, error);
    }
  }

  #fail(what: string, service: string, cause: unknown): RegistryUnavailableError {
    const error = this.#unavailable(what, cause);
    countRegistryError('consul', service, error);
    return error;
  }

  /** One `/v1/health/service/:name` query; blocking when `index` > 0. */
  async #query(
    service: string,
    index: bigint,
    signal: AbortSignal | undefined,
    cancel?: { ctx?: RequestContext | undefined },
  ): Promise<QueryResult> {
    const opts = this.#opts;
    const request: Record<string, unknown> = { ...this.#common(), service };
    if (opts.passingOnly) request.passing = true;
    if (opts.datacenter !== undefined) request.dc = opts.datacenter;
    if (opts.consistency === 'stale') request.stale = true;
    if (opts.consistency === 'consistent') request.consistent = true;
    if (index > 0n) {
      request.index = index.toString();
      request.wait = goDuration(opts.waitMs);
      // Consul adds up to wait/16 of jitter to the wait; give the answer that long, plus a margin.
      request.timeout = opts.waitMs + Math.ceil(opts.waitMs / 16) + 5000;
    }
    const [res, body] = await withSignal(
      signal,
      true,
      (ctx) =>
        this.#client.health.service({ ...request, ctx }) as Promise<
          [{ headers: Record<string, string | string[] | undefined> }, unknown]
        >,
      cancel,
    );
    const header = res.headers['x-consul-index'];
    const raw = Array.isArray(header) ? header[0] : header;
    const parsed =
      raw !== undefined && /^\d{1,20}$/.test(raw.trim()) ? BigInt(raw.trim()) : undefined;
    return { index: parsed, body, stale: this.#staleness(res.headers) };
  }

  /** With `maxLastContactMs`: why an answer is too far behind the leader to use, if it is. */
  #staleness(headers: Record<string, string | string[] | undefined>): string | undefined {
    const max = this.#opts.maxLastContactMs;
    if (max === undefined) return undefined;
    if (headers['x-consul-knownleader'] === 'false') {
      return 'the server that answered knows no leader (X-Consul-KnownLeader: false)';
    }
    const lastContact = Number(headers['x-consul-lastcontact']);
    if (Number.isFinite(lastContact) && lastContact > max) {
      return `the server that answered last heard from the leader ${lastContact} ms ago (X-Consul-LastContact), more than maxLastContactMs (${max})`;
    }
    return undefined;
  }

  /** Turns a response body into instances; malformed entries are skipped and reported. */
  #parse(
    service: string,
    body: unknown,
    report: (error: DiscoveryError) => void,
  ): readonly Instance[] {
    if (!Array.isArray(body)) {
      throw new InvalidInstanceError(
        '',
        `Consul answered /v1/health/service/${service} with ${body === undefined ? 'no body' : 'something that is not a JSON array'}; is this a Consul agent?`,
        typeof body === 'object' ? 'an object' : body,
      );
    }
    const out: Instance[] = [];
    const seen = new Set<string>();
    for (const entry of body as HealthEntry[]) {
      try {
        const instance = this.#toInstance(service, entry);
        if (seen.has(instance.id)) continue;
        seen.add(instance.id);
        out.push(instance);
      } catch (error) {
        if (error instanceof InvalidInstanceError) report(error);
        else throw error;
      }
    }
    return Object.freeze(out.sort(byId));
  }

  #toInstance(service: string, entry: HealthEntry): Instance {
    if (
      typeof entry !== 'object' ||
      entry === null ||
      typeof entry.Service !== 'object' ||
      !entry.Service
    ) {
      throw new InvalidInstanceError(
        'Service',
        `A Consul health entry of service "${service}" has no "Service" object; skipped.`,
        entry,
      );
    }
    const s = entry.Service;
    const nodeMeta = isRecord(entry.Node?.Meta) ? entry.Node.Meta : {};
    const meta = s.Meta === null || s.Meta === undefined ? {} : s.Meta;
    const address =
      typeof s.Address === 'string' && s.Address !== '' ? s.Address : entry.Node?.Address;
    const zoneKey = this.#opts.zoneMetaKey;
    const zone =
      isRecord(meta) && typeof meta[zoneKey] === 'string' ? meta[zoneKey] : nodeMeta[zoneKey];
    const metaWeight =
      isRecord(meta) && typeof meta.weight === 'string' ? Number(meta.weight) : undefined;
    const weight =
      metaWeight !== undefined && Number.isFinite(metaWeight) && metaWeight > 0
        ? metaWeight
        : typeof s.Weights?.Passing === 'number' && s.Weights.Passing > 0
          ? s.Weights.Passing
          : 1;
    const checks = Array.isArray(entry.Checks) ? entry.Checks : [];
    const healthy = checks.every(
      (check) => (check as { Status?: unknown } | null)?.Status === 'passing',
    );
    return normalizeInstance(
      {
        id: s.ID,
        service: s.Service,
        address,
        port: s.Port,
        tags: s.Tags ?? undefined,
        meta,
        zone: typeof zone === 'string' && zone !== '' ? zone : undefined,
        weight,
        healthy,
      },
      service,
    );
  }

  async list(
    service: string,
    options?: { signal?: AbortSignal | undefined },
  ): Promise<readonly Instance[]> {
    this.#checkOpen();
    let response: QueryResult;
    try {
      response = await this.#query(service, 0n, options?.signal);
    } catch (error) {
      if (options?.signal?.aborted) throw error;
      throw this.#fail(`reading /v1/health/service/${service}`, service, error);
    }
    if (response.stale !== undefined) {
      throw this.#fail(`reading /v1/health/service/${service}`, service, new Error(response.stale));
    }
    try {
      return this.#parse(service, response.body, (error) =>
        countRegistryError('consul', service, error),
      );
    } catch (error) {
      if (error instanceof InvalidInstanceError) {
        throw this.#fail(`reading /v1/health/service/${service}`, service, error);
      }
      throw error;
    }
  }

  watch(service: string, events: WatchEvents): Subscription {
    this.#checkOpen();
    const opts = this.#opts;
    const clock = opts.clock;
    const bucket = new TokenBucket(opts.watchBurst, opts.watchIntervalMs, clock);
    const cancel: { ctx?: RequestContext | undefined } = {};
    let stopped = false;
    let timer: unknown;
    let index = 0n;
    let failures = 0;
    let last: string | undefined;

    const report = (error: DiscoveryError): void => {
      countRegistryError('consul', service, error);
      if (!stopped) events.onError(error);
    };
    const schedule = (ms: number): void => {
      if (stopped) return;
      if (ms <= 0) {
        queueMicrotask(loop);
        return;
      }
      timer = unrefTimer(clock.setTimeout(loop, ms));
    };
    const fail = (error: DiscoveryError): void => {
      report(error);
      failures += 1;
      // The next good read is pushed even if unchanged: it tells the consumer the registry is back.
      last = undefined;
      // Start over with a non-blocking read after an error: the index may be stale.
      index = 0n;
      schedule(backoffMs(failures, opts.backoffBaseMs, opts.backoffMaxMs));
    };
    const loop = (): void => {
      timer = undefined;
      if (stopped) return;
      const wait = bucket.take();
      if (wait > 0) {
        // Rate-limited: the token is taken; run once it is due.
        timer = unrefTimer(clock.setTimeout(run, wait));
        return;
      }
      void run();
    };
    const run = async (): Promise<void> => {
      timer = undefined;
      if (stopped) return;
      let response: QueryResult;
      const previous = index;
      try {
        response = await this.#query(service, previous, undefined, cancel);
      } catch (error) {
        if (stopped) return;
        fail(this.#unavailable(`watching /v1/health/service/${service}`, error));
        return;
      }
      if (stopped) return;
      if (response.stale !== undefined) {
        fail(
          this.#unavailable(`watching /v1/health/service/${service}`, new Error(response.stale)),
        );
        return;
      }
      if (response.index === undefined) {
        fail(
          this.#unavailable(
            `watching /v1/health/service/${service}`,
            new Error(
              'the answer has no valid X-Consul-Index header (blocking queries unsupported?)',
            ),
          ),
        );
        return;
      }
      let instances: readonly Instance[];
      try {
        instances = this.#parse(service, response.body, report);
      } catch (error) {
        if (!(error instanceof InvalidInstanceError)) throw error;
        fail(this.#unavailable(`watching /v1/health/service/${service}`, error));
        return;
      }
      failures = 0;
      // Blocking-query rules (Consul docs, "Implementation Details"): an index that went backwards
      // resets the loop to 0; otherwise never block on an index below 1.
      if (response.index < previous) index = 0n;
      else index = response.index < 1n ? 1n : response.index;
      const signature = listSignature(instances);
      if (signature !== last) {
        last = signature;
        events.onInstances(instances);
      }
      schedule(0);
    };

    const stop = (): void => {
      stopped = true;
      if (timer !== undefined) clock.clearTimeout(timer);
      cancel.ctx?.emit('cancel');
      this.#watches.delete(stop);
    };
    this.#watches.add(stop);
    queueMicrotask(loop);
    return subscription(stop);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const stop of [...this.#watches]) stop();
    const pending = [...this.#registrations].map((cleanup) => cleanup().catch(() => {}));
    await Promise.all(pending);
    if (this.#owned) this.#client.destroy();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
