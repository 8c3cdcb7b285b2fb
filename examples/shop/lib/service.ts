/**
 * The one bootstrap every shop service uses. Tracing is already running (the launcher starts each
 * service with `--import @ballast/tracing/register`); this wires the rest:
 *
 * - configuration (YAML + env + the live Redis document, hot reload) — lib/config.ts
 * - a pino logger carrying trace ids (`pinoMixin`)
 * - the registry (Redis, or Consul when CONSUL_HTTP_ADDR is set) and `register()`
 * - inbound: token verification (JWKS of the shop issuer) for the framework's `requireAuth`
 * - outbound: one discovery dispatcher (p2cPeakEwma + outlier ejection) and, per dependency, a
 *   breaker + retry + timeout (`@ballast/breaker/undici`) and the service token
 *   (`clientCredentials` + `bearerInterceptor`)
 * - probes (/livez, /readyz, /health), the fault flags, and the graceful shutdown sequence.
 */
import {
  createServer,
  type IncomingMessage,
  type RequestListener,
  type Server,
  type ServerResponse,
} from 'node:http';
import { clientCredentials, createVerifier, type TokenSource, type Verifier } from '@ballast/auth';
import { bearerInterceptor } from '@ballast/auth/undici';
import {
  type BreakerRegistry,
  createBreakerRegistry,
  type HedgePolicy,
  hedge,
} from '@ballast/breaker';
import { breakerInterceptor } from '@ballast/breaker/undici';
import {
  consulRegistry,
  p2cPeakEwma,
  type Registry,
  redisRegistry,
  register,
} from '@ballast/discovery';
import type { Campaign } from '@ballast/discovery/lease';
import {
  createHealth,
  createShutdown,
  redisIndicator,
  registrationIndicator,
} from '@ballast/discovery/lifecycle';
import { probes } from '@ballast/discovery/node-http';
import { discoveryDispatcher } from '@ballast/discovery/undici';
import { type RedisStore, redisStore } from '@ballast/idempotency';
import { sleep } from '@ballast/kernel';
import { activeTracing, pinoMixin } from '@ballast/tracing';
import { Redis } from 'ioredis';
import { type Logger, pino } from 'pino';
import { type Dispatcher, request, fetch as undiciFetch } from 'undici';
import { loadConfig, type ShopConfig } from './config.ts';
import { instanceZone, introspection } from './introspection.ts';
import { quiet } from './quiet.ts';
import { type DependencySettings, dependencySettings, type Settings } from './settings.ts';

export type { Settings } from './settings.ts';

export interface CallOptions {
  method?: string | undefined;
  /** JSON-encoded when given. */
  body?: unknown;
  headers?: Record<string, string> | undefined;
  signal?: AbortSignal | undefined;
  /**
   * Idempotent requests only: when the first attempt has not answered after the p90 of this
   * dependency's recent hedged calls, send a second one (the balancer picks another instance: the
   * first is still outstanding), after as long again a third, and take whichever answers first;
   * the others finish unobserved.
   * A slow instance then costs a call the hedge delay, not its own latency — including the
   * balancer's occasional probe of it.
   */
  hedge?: boolean | undefined;
}

export interface CallResult<T = unknown> {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: T;
}

export interface Service {
  readonly name: string;
  readonly instanceId: string;
  readonly port: number;
  readonly log: Logger;
  /** Shared ioredis client (data, registry, idempotency store, config). */
  readonly redis: Redis;
  readonly config: ShopConfig;
  /** The current configuration snapshot (cheap: read it where it is used). */
  settings(): Settings;
  /** Verifies tokens from the shop issuer (for `requireAuth` of the service's framework). */
  readonly verifier: Verifier;
  readonly audience: string;
  /** Calls a dependency by service name through discovery, breaker, retry, timeout and token. */
  call<T = unknown>(
    dependency: string,
    path: string,
    options?: CallOptions,
  ): Promise<CallResult<T>>;
  /**
   * The discovery dispatcher with this service's token on every request to another service (for
   * `createRouter({ dispatcher })`, whose routes bring their own timeout, retry and breaker).
   */
  serviceDispatcher(): Dispatcher;
  /**
   * How long a dependency's breaker still refuses calls, in ms, or `undefined` when it would let
   * one through. An OPEN breaker turns HALF_OPEN only on the first call after its open time, so a
   * caller that fails fast must stop doing so once that time is up, or no call ever probes again.
   */
  breakerOpenForMs(dependency: string): number | undefined;
  /** State of a dependency's breaker, lower case: closed, open, half_open, … ('closed' before its first call). */
  breakerState(dependency: string): string;
  /**
   * The service's idempotency store in Redis (`shop:idem:<service>:`), closed on shutdown. Every
   * Redis command is bounded by 1 s: well under the 2 s Redis pause of the scenarios, so an
   * idempotent endpoint still fails closed (503 + Retry-After) rather than hang, yet loose enough
   * that a loaded 2-core machine (GC pauses, event-loop lag of a few hundred ms) does not turn
   * ordinary checkouts into 503s.
   */
  idempotencyStore(): RedisStore;
  /** Extra fields of GET /health. */
  healthFields(fields: () => Record<string, unknown>): void;
  /** Work to stop on shutdown (consumers, jobs): after the drain, before Redis is closed. */
  onShutdown(hook: () => Promise<void> | void): void;
  /** A leader-election campaign to resign from during the shutdown sequence. */
  addCampaign(campaign: Campaign): void;
  /** A node:http server whose requests pass the probes and the fault flags first. */
  httpServer(handler: RequestListener): Server;
  /** Listens on PORT, registers in the registry, and marks the service ready. */
  listen(server: Server, options?: { reusePort?: boolean | undefined }): Promise<void>;
  /** True while shutting down (stop taking new background work). */
  readonly closing: boolean;
  readonly signal: AbortSignal;
}

function requiredEnv(name: string, fallback?: string): string {
  const value = process.env[name] ?? fallback;
  if (value === undefined || value === '')
    throw new Error(`${name} is not set (the launcher sets it: npm run shop)`);
  return value;
}

function createRegistry(redis: Redis): Registry {
  const consul = process.env.CONSUL_HTTP_ADDR;
  if (consul) {
    const url = new URL(consul.includes('://') ? consul : `http://${consul}`);
    return consulRegistry({
      host: url.hostname,
      port: Number(url.port || 8500),
      secure: url.protocol === 'https:',
      ttlMs: 6000,
    });
  }
  return redisRegistry({ client: redis, ttlMs: 6000 });
}

function breakerOptions(settings: DependencySettings) {
  return {
    windowType: 'count' as const,
    windowSize: 20,
    minimumCalls: Math.min(20, settings.breaker.minimumRequests),
    failureRateThreshold: settings.breaker.failureRateThreshold,
    openMs: settings.breaker.openMs,
  };
}

/** Creates the service's bootstrap. Call `listen()` once its routes are in place. */
export async function createService(options: {
  /** Services this one calls over HTTP. */
  dependencies?: readonly string[] | undefined;
  /**
   * Per dependency, which statuses count as breaker failures (and are retried); default `>= 500`.
   * The gateway excludes orders' 503: a checkout that failed fast because payments is down is an
   * answer, not a sign that orders is broken.
   */
  isFailure?: Record<string, (status: number) => boolean> | undefined;
}): Promise<Service> {
  const name = requiredEnv('SERVICE_NAME');
  const instanceId = requiredEnv('INSTANCE_ID', `${name}-${process.pid}`);
  const port = Number(
    requiredEnv('PORT', name === 'gateway' ? (process.env.SHOP_PORT ?? '8080') : undefined),
  );
  const redisUrl = requiredEnv('REDIS_URL', 'redis://127.0.0.1:6379');
  const issuer = requiredEnv('SHOP_ISSUER_URL').replace(/\/$/, '');
  const audience = process.env.SHOP_AUDIENCE ?? 'shop';
  const startedAt = Date.now();

  const redis = new Redis(redisUrl, {
    maxRetriesPerRequest: 1,
    connectionName: instanceId,
    lazyConnect: false,
  });
  const config = await loadConfig({ service: name, instanceId, redis });
  const log = pino({
    name,
    level: process.env.LOG_LEVEL ?? config.get().log.level,
    base: { instance: instanceId },
    mixin: pinoMixin,
  });
  log.info(
    { startupMs: Math.round(performance.now()) },
    `${name} starting (modules loaded, config read)`,
  );
  config.onChange((settings) => {
    log.level = process.env.LOG_LEVEL ?? settings.log.level;
    log.info({ version: config.status().version }, 'configuration applied');
  });

  const jwksFetch = (url: string, init: RequestInit) =>
    undiciFetch(url, init as Parameters<typeof undiciFetch>[1]) as unknown as Promise<Response>;
  const verifier = createVerifier({
    issuer,
    audience,
    jwksUri: `${issuer}/jwks.json`,
    algorithms: ['ES256', 'RS256', 'EdDSA'],
    // undici is loaded anyway (the dispatcher): Node's global fetch would load a second copy.
    fetch: jwksFetch,
    jwks: {
      refreshIntervalMs: config.get().auth.jwksRefreshMs,
      cooldownMs: config.get().auth.jwksCooldownMs,
    },
  });
  verifier.onJwksEvent((event) => {
    if (event.type === 'refresh_failed') log.warn({ jwks: event }, 'JWKS refresh failed');
  });

  const registry = createRegistry(redis);
  const dependencies = options.dependencies ?? [];
  const clientId = process.env.SHOP_CLIENT_ID;
  const clientSecret = process.env.SHOP_CLIENT_SECRET;
  const tokens: TokenSource | undefined =
    dependencies.length > 0 && clientId && clientSecret
      ? clientCredentials({ issuer, clientId, clientSecret, timeoutMs: 2000, fetch: jwksFetch })
      : undefined;
  if (dependencies.length > 0 && !tokens)
    throw new Error('SHOP_CLIENT_ID and SHOP_CLIENT_SECRET are required');

  // One discovery dispatcher for every dependency: p2cPeakEwma + passive outlier ejection.
  // Decay 10 s (Finagle's and Linkerd's): at the shop's few dozen calls a second per dependency,
  // the 1 s default probes a slow instance with ~1 % of the calls — enough to move a p99. Whatever
  // a service's isFailure excludes (the gateway: orders' 503 during a payments outage) is not held
  // against the instance either, or the balancer would starve the instances that answered it.
  const isFailure = options.isFailure ?? {};
  const base = discoveryDispatcher({
    registry,
    balancer: p2cPeakEwma({ decayMs: 10_000 }),
    isFailure: (status, dependency) => isFailure[dependency]?.(status) ?? status >= 500,
    retries: 1,
    ejection: {
      consecutiveFailures: 3,
      baseEjectionMs: 5000,
      maxEjectionMs: 30_000,
      maxEjectionPercent: 50,
    },
    pool: { connections: 32, keepAliveTimeout: 4000 },
  });

  interface Dependency {
    dispatcher: Dispatcher;
    breakers: BreakerRegistry;
    fingerprint: string;
  }
  const outbound = new Map<string, Dependency>();
  const buildDependency = (dependency: string, settings: DependencySettings): Dependency => {
    const origin = `http://${dependency}`;
    const breakers = createBreakerRegistry({ breaker: breakerOptions(settings) });
    const dispatcher = base.compose(
      bearerInterceptor({ tokens: tokens ? { [origin]: tokens } : {} }),
      breakerInterceptor({
        breakers,
        timeoutMs: settings.timeoutMs,
        ...(options.isFailure?.[dependency] ? { isFailure: options.isFailure[dependency] } : {}),
        retry:
          settings.retries > 0
            ? {
                maxAttempts: settings.retries + 1,
                initialDelayMs: 20,
                maxDelayMs: 250,
                backoff: 'full-jitter',
              }
            : false,
      }),
    );
    return { dispatcher, breakers, fingerprint: JSON.stringify(settings) };
  };
  const refreshDependencies = (settings: Settings) => {
    for (const dependency of dependencies) {
      const wanted = dependencySettings(settings, dependency);
      const current = outbound.get(dependency);
      if (current?.fingerprint === JSON.stringify(wanted)) continue;
      // A breaker's options are fixed at construction: a changed threshold gets a new one.
      outbound.set(dependency, buildDependency(dependency, wanted));
      if (current) void current.breakers.close();
    }
  };
  refreshDependencies(config.get());
  config.onChange(refreshDependencies);

  const hedges = new Map<string, HedgePolicy>();
  const call = async <T>(
    dependency: string,
    path: string,
    callOptions: CallOptions = {},
  ): Promise<CallResult<T>> => {
    if (!outbound.has(dependency))
      throw new Error(`${dependency} is not a declared dependency of ${name}`);
    if (!callOptions.hedge) return send<T>(dependency, path, callOptions, callOptions.signal);
    let policy = hedges.get(dependency);
    if (!policy) {
      // the losing attempt is not aborted: it finishes, and the balancer measures the slow
      // instance's real latency (an attempt abandoned after 20 ms would only say "≥ 20 ms", and
      // the slow instance would keep looking as good as a healthy one having a bad moment)
      // Two extra attempts, not one: with one slow instance of three, a first attempt that is
      // merely unlucky on a healthy instance is sometimes hedged onto the slow one, and only a
      // third attempt gets the call back under the delay (scenarios/simulate-slow-instance.ts:
      // no run of 12 over 1.5x with two, 2-3 of 12 with one, 4 of 12 without hedging).
      policy = hedge({
        delayMs: 25,
        quantile: 0.9,
        minSamples: 20,
        maxHedgedAttempts: 2,
        abortLosers: false,
      });
      hedges.set(dependency, policy);
    }
    return policy.execute(({ signal }) => send<T>(dependency, path, callOptions, signal), {
      signal: callOptions.signal,
    });
  };
  const send = async <T>(
    dependency: string,
    path: string,
    callOptions: CallOptions,
    signal: AbortSignal | undefined,
  ): Promise<CallResult<T>> => {
    const entry = outbound.get(dependency);
    if (!entry) throw new Error(`${dependency} is not a declared dependency of ${name}`);
    const headers: Record<string, string> = { ...(callOptions.headers ?? {}) };
    let body: string | undefined;
    if (callOptions.body !== undefined) {
      body = JSON.stringify(callOptions.body);
      headers['content-type'] = 'application/json';
    }
    const response = await request(`http://${dependency}${path}`, {
      method: (callOptions.method ?? 'GET') as Dispatcher.HttpMethod,
      headers,
      body,
      dispatcher: entry.dispatcher,
      signal,
    });
    const text = await response.body.text();
    let parsed: unknown = text;
    if (text && String(response.headers['content-type'] ?? '').includes('json')) {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = text;
      }
    }
    return { status: response.statusCode, headers: response.headers, body: parsed as T };
  };

  const breakerOpenForMs = (dependency: string): number | undefined => {
    const breaker = outbound.get(dependency)?.breakers.peek(`http://${dependency}`);
    if (breaker?.state !== 'OPEN') return undefined;
    const until = breaker.toJSON().openUntil;
    const left = until === null ? 0 : until - Date.now();
    return left > 0 ? left : undefined;
  };

  const breakerState = (dependency: string): string =>
    (
      outbound.get(dependency)?.breakers.peek(`http://${dependency}`)?.state ?? 'closed'
    ).toLowerCase();

  // Probes (@ballast/discovery/lifecycle + its node:http adapter), faults and shutdown.
  const health = createHealth({
    ready: false,
    indicators: [
      redisIndicator(redis),
      {
        name: 'config',
        check: () => ({
          status: config.status().rejected ? 'DEGRADED' : 'UP',
          details: { ...config.status() },
        }),
        critical: false,
      },
      {
        name: 'jwks',
        check: () => {
          const jwks = verifier.status().jwks.state;
          return { status: jwks === 'unavailable' ? 'DOWN' : 'UP', details: { state: jwks } };
        },
        critical: false,
      },
    ],
  });
  const answerProbe = probes(health, { healthPath: false });
  const controller = new AbortController();
  const extraHealth: (() => Record<string, unknown>)[] = [];

  const json = (
    res: ServerResponse,
    status: number,
    body: unknown,
    headers: Record<string, string> = {},
  ) => {
    res
      .writeHead(status, { 'content-type': 'application/json', ...headers })
      .end(JSON.stringify(body));
  };

  /** GET /health: the contract's fields (config version, leader, …) plus every component. */
  const healthPage = async (res: ServerResponse) => {
    const report = await health.check();
    const extra = Object.assign({}, ...extraHealth.map((fields) => fields()));
    json(res, report.httpStatus ?? (health.isReady ? 200 : 503), {
      service: name,
      instance: instanceId,
      status: shutdown.state !== 'idle' ? 'draining' : health.isReady ? 'ready' : 'starting',
      health: report.status,
      uptimeS: Math.round((Date.now() - startedAt) / 1000),
      config: config.status(),
      jwks: verifier.status().jwks.state,
      breakers: Object.fromEntries(
        dependencies.map((dependency) => [dependency, breakerState(dependency)]),
      ),
      // For the dashboard: each breaker's rates against its threshold and the time until half-open.
      breakerMetrics: Object.fromEntries(
        dependencies.map((dependency) => {
          const metrics = outbound
            .get(dependency)
            ?.breakers.peek(`http://${dependency}`)
            ?.metrics();
          return [
            dependency,
            {
              calls: metrics?.calls ?? 0,
              failureRate: metrics?.failureRate ?? 0,
              slowCallRate: metrics?.slowCallRate ?? 0,
              rejectedCalls: metrics?.rejectedCalls ?? 0,
              openForMs: breakerOpenForMs(dependency) ?? 0,
              failureRateThreshold: dependencySettings(config.get(), dependency).breaker
                .failureRateThreshold,
            },
          ];
        }),
      ),
      ...extra,
      components: report.components,
    });
  };

  const serve = async (handler: RequestListener, req: IncomingMessage, res: ServerResponse) => {
    if (await answerProbe(req, res)) return;
    if (req.url === '/health') return healthPage(res);
    if (introspection(req, res, { service: name, instance: instanceId, dispatcher: base })) return;
    const faults = config.get().faults;
    const factor = faults.slow[instanceId];
    const rate = faults.errorRate[name];
    if (rate !== undefined && rate > 0 && Math.random() < rate) {
      json(res, 500, { error: 'INJECTED_FAULT', message: `faults.errorRate.${name} = ${rate}` });
      return;
    }
    if (factor !== undefined && factor > 1) await sleep((factor - 1) * faults.slowBaseMs);
    handler(req, res);
  };
  const httpServer = (handler: RequestListener): Server =>
    createServer({ keepAliveTimeout: 5000 }, (req, res) => {
      serve(handler, req, res).catch((error: unknown) => {
        log.error({ err: error }, 'request failed before its handler');
        if (!res.headersSent) json(res, 500, { error: 'INTERNAL' });
      });
    });

  // The launcher gives 10 s between SIGTERM and SIGKILL: every step is bounded to fit in it.
  const shutdown = createShutdown({
    health,
    shutdownDelayMs: 1000,
    deregisterTimeoutMs: 1000,
    drainTimeoutMs: 4000,
    releaseTimeoutMs: 1000,
    hooksTimeoutMs: 2500,
    gracePeriodMs: 10_000,
  });
  shutdown.onStep((event) => {
    if (event.phase !== 'started')
      log.info({ step: event.step, phase: event.phase, ms: event.durationMs }, 'shutdown step');
  });
  const userHooks: (() => Promise<void> | void)[] = [];
  shutdown.addHook({
    name: 'service',
    run: async () => {
      controller.abort(new Error('shutting down'));
      // Last registered, first stopped: a consumer stops before the store it writes to closes.
      for (const hook of [...userHooks].reverse()) {
        try {
          await hook();
        } catch (error) {
          log.warn({ err: error }, 'shutdown hook failed');
        }
      }
    },
  });
  shutdown.addHook({
    name: 'clients',
    run: async () => {
      await Promise.allSettled([
        base.close(),
        tokens && (tokens as TokenSource & { close?: () => Promise<void> }).close?.(),
        verifier.close(),
        config.close(),
        registry.close(),
        health.close(),
      ]);
      await redis.quit().catch(() => redis.disconnect());
    },
  });
  shutdown.addHook({ name: 'tracing', run: async () => activeTracing()?.shutdown() });

  const listen = async (
    target: Server,
    listenOptions: { reusePort?: boolean | undefined } = {},
  ) => {
    shutdown.addServer(target);
    await new Promise<void>((resolve, reject) => {
      target.once('error', reject);
      target.listen(
        { port, host: '127.0.0.1', reusePort: listenOptions.reusePort ?? false },
        () => {
          target.off('error', reject);
          resolve();
        },
      );
    });
    // Fail fast when the issuer is down; a token arriving later would refetch anyway.
    await verifier.refreshKeys({ signal: AbortSignal.timeout(5000) }).catch((error: unknown) => {
      log.warn({ err: error }, 'JWKS not loaded at start (will retry on first token)');
    });
    // Heartbeats every 2 s in every process: kept out of the traces.
    const registration = await quiet(() =>
      register(
        registry,
        {
          id: instanceId,
          service: name,
          address: '127.0.0.1',
          port,
          zone: instanceZone(instanceId),
          meta: { instance: instanceId },
        },
        { server: target, signals: [] },
      ),
    );
    registration.onError((error) => log.warn({ err: error }, 'registry heartbeat failed'));
    shutdown.addRegistration(registration);
    health.add(registrationIndicator(registration, { critical: false }));
    health.setReady(true);
    log.info({ port }, `${name} ready`);
  };

  return {
    name,
    instanceId,
    port,
    log,
    redis,
    config,
    settings: () => config.get(),
    verifier,
    audience,
    call,
    breakerState,
    breakerOpenForMs,
    serviceDispatcher: () => {
      if (!tokens) throw new Error(`${name} declares no dependency: it has no service token`);
      const source = tokens;
      return base.compose(bearerInterceptor({ tokens: () => source }));
    },
    idempotencyStore: () => {
      const store = redisStore({
        client: redis,
        prefix: `shop:idem:${name}:`,
        operationTimeoutMs: 1000,
      });
      userHooks.push(() => store.close());
      return store;
    },
    healthFields: (fields) => void extraHealth.push(fields),
    onShutdown: (hook) => void userHooks.push(hook),
    addCampaign: (campaign) => void shutdown.addCampaign(campaign),
    httpServer,
    listen,
    get closing() {
      return shutdown.state !== 'idle';
    },
    signal: controller.signal,
  };
}

/** Maps a failed dependency call (open breaker, timeout, no instance) to a 503 + Retry-After. */
export function unavailable(error: unknown): {
  status: number;
  retryAfterS: number;
  code: string;
  message: string;
} {
  const e = error as { code?: string; retryAfterMs?: number; message?: string };
  const retryAfterS = Math.max(1, Math.ceil((e?.retryAfterMs ?? 1000) / 1000));
  return {
    status: 503,
    retryAfterS,
    code: e?.code ?? 'UPSTREAM_UNAVAILABLE',
    message: e?.message ?? String(error),
  };
}
