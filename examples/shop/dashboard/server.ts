/**
 * The shop's operations dashboard: a small node:http server that serves one static page
 * (`public/`) at `/dashboard` and streams the state of the stack to it over Server-Sent Events.
 * It registers itself in the Redis registry as `dashboard`; the gateway forwards its own
 * `/dashboard…` to it by name, which is the URL users open.
 *
 * It reads only what the stack exposes publicly:
 * - the launcher's control API (`/stack`, `/processes`, `/config`; actions are forwarded to it),
 * - every instance's `/health` (status, config version and refused push, breakers, leader, token),
 * - every instance's `/internal/balancer` (its discovery dispatcher's `snapshot()`: per instance of
 *   each dependency the zone, requests in flight, peak-EWMA, ejection, outcome counters), summed
 *   per instance and turned into call rates (dashboard/topology.ts),
 * - the Redis registry through `redisRegistry().watch()` (who is registered, who is draining),
 * - the OTLP receiver (`/traces`, `/traces/:id`).
 *
 *   GET  /dashboard                       the page
 *   GET  /dashboard/events                SSE: `snapshot` events (the whole state, ~2 per second)
 *   GET  /dashboard/api/state             the same snapshot as JSON
 *   GET  /dashboard/api/traces/:id        one trace from the receiver
 *   PUT  /dashboard/api/config[?replace=1] forwarded to the control API's PUT /config (a rollback
 *                                         replaces the document with an earlier version's)
 *   POST /dashboard/api/processes/:id/:a  forwarded to the control API (kill, restart, …)
 *   POST /dashboard/api/checkout          one checkout as a shopper (answer, latency, trace id)
 *   POST /dashboard/api/load {rps,seconds} a bounded checkout load (rps 0 stops it)
 *   POST /dashboard/api/orders/leader/kill, …/redis/pause, …/rolling-restart  forwarded as well
 *   POST /dashboard/api/scenarios/:id/run  runs one scenario (scenarios/run.ts) here: 202, or 409
 *                                         while another runs (dashboard/scenarios.ts)
 *   POST /dashboard/api/scenarios/stop    aborts the running one (it clears its faults)
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  type Instance as RegistryInstance,
  type ResolverSnapshot,
  redisRegistry,
  register,
  type ServiceRegistration,
} from '@ballast/discovery';
import { Redis } from 'ioredis';
import type { RunScenarioOptions } from '../scenarios/run.ts';
import { scenarioRunner } from './scenarios.ts';
import { type BalancerTotals, callEdges, instanceLoad } from './topology.ts';

const PUBLIC = join(dirname(fileURLToPath(import.meta.url)), 'public');
const FILES: Record<string, [string, string]> = {
  '/dashboard': ['index.html', 'text/html; charset=utf-8'],
  '/dashboard/': ['index.html', 'text/html; charset=utf-8'],
  '/dashboard/app.js': ['app.js', 'text/javascript; charset=utf-8'],
  '/dashboard/style.css': ['style.css', 'text/css; charset=utf-8'],
};

export interface DashboardOptions {
  /** The launcher's control API, e.g. `http://127.0.0.1:8079`. */
  controlUrl: string;
  /** Port of the dashboard server (0 = any free port). */
  port?: number | undefined;
  /** Services whose registry entries are watched. */
  services?: string[] | undefined;
  /** How often the state is collected and pushed, in ms (default 500). */
  intervalMs?: number | undefined;
  /** Password of the shoppers at the issuer (default SHOP_SHOPPER_PASSWORD, else `shopper`). */
  shopperPassword?: string | undefined;
  /**
   * What the scenarios need besides the control API (the launcher passes its secrets): the admin's
   * password and TOTP secret (scenario 6) and the ops client (diagnostic reads).
   */
  credentials?: ScenarioCredentials | undefined;
  /**
   * Registers the dashboard in the Redis registry as service `dashboard`, so the gateway serves it
   * at `<gateway>/dashboard` by name (default true).
   */
  register?: boolean | undefined;
}

/** The secrets `runScenario()` needs (scenarios/run.ts). */
export type ScenarioCredentials = NonNullable<RunScenarioOptions['credentials']>;

interface Transition {
  at: number;
  text: string;
}

interface ConfigVersion {
  version: number;
  at: number;
  changed: string[];
  /** The whole document of this version (what a rollback pushes back). */
  document: Record<string, unknown>;
}

const DEFAULT_SERVICES = [
  'gateway',
  'auth',
  'catalog',
  'inventory',
  'orders',
  'payments',
  'shipping',
  'notifications',
];

async function getJson<T>(url: string, timeoutMs = 1000): Promise<T | undefined> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    const text = await res.text();
    return JSON.parse(text) as T;
  } catch {
    return undefined;
  }
}

/** Paths (a.b.c) whose values differ between two JSON documents. */
function changedPaths(before: unknown, after: unknown, prefix = ''): string[] {
  const isObj = (v: unknown): v is Record<string, unknown> =>
    typeof v === 'object' && v !== null && !Array.isArray(v);
  // an object on one side and nothing on the other: every leaf of the object changed
  if ((isObj(before) || before === undefined) && (isObj(after) || after === undefined)) {
    const a = (before ?? {}) as Record<string, unknown>;
    const b = (after ?? {}) as Record<string, unknown>;
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    return [...keys]
      .filter((k) => !(prefix === '' && k === 'version'))
      .flatMap((k) => changedPaths(a[k], b[k], prefix ? `${prefix}.${k}` : k));
  }
  return JSON.stringify(before) === JSON.stringify(after) ? [] : [prefix || '(document)'];
}

export async function startDashboard(options: DashboardOptions) {
  const control = options.controlUrl.replace(/\/$/, '');
  const intervalMs = options.intervalMs ?? 500;
  const stack = await getJson<{ otlp: string; redis: string; gateway: string; issuer: string }>(
    `${control}/stack`,
    5000,
  );
  if (!stack) throw new Error(`the control API at ${control} does not answer GET /stack`);

  // The registry, as a client of the shop would see it.
  const redis = new Redis(stack.redis, { maxRetriesPerRequest: 1, lazyConnect: true });
  await redis.connect();
  const registry = redisRegistry({ client: redis, ttlMs: 6000 });
  const registered = new Map<string, readonly RegistryInstance[]>();
  const watches = (options.services ?? DEFAULT_SERVICES).map((service) =>
    registry.watch(service, {
      onInstances: (instances) => registered.set(service, instances),
      onError: () => {},
    }),
  );

  const breakerLog: Transition[] = [];
  const leaderLog: Transition[] = [];
  const configHistory: ConfigVersion[] = [];
  const lastBreaker = new Map<string, string>();
  let lastLeader: string | undefined;
  let lastDocument: Record<string, unknown> | undefined;
  let lastVersion: number | undefined;
  const push = (log: Transition[], text: string) => {
    log.unshift({ at: Date.now(), text });
    log.length = Math.min(log.length, 30);
  };

  const edges = callEdges();
  const scenarios = scenarioRunner({
    controlUrl: control,
    credentials: options.credentials,
    onChange: () => void tick(),
  });

  let balancers: BalancerTotals[] = [];
  let viewsAt = 0;
  let snapshot: Record<string, unknown> = {};
  let traces: unknown[] = [];
  let tracesAt = 0;

  async function collect() {
    const [processes, config] = await Promise.all([
      getJson<{ processes: Record<string, any>[] }>(`${control}/processes`),
      getJson<Record<string, unknown>>(`${control}/config`),
    ]);
    const rows = (processes?.processes ?? []).filter((p) => p.service !== 'redis');
    const live = (p: { state?: string }) => p.state !== 'exited' && p.state !== 'killed';
    // Balancer views once a second (each caller's counters make the rates; they need no more), the
    // health of every instance on every collection: breaker changes show within one interval.
    const viewsDue = Date.now() - viewsAt >= 950;
    const [healths, views] = await Promise.all([
      Promise.all(
        rows.map((p) =>
          live(p)
            ? getJson<Record<string, any>>(`http://127.0.0.1:${p.port}/health`, 800)
            : undefined,
        ),
      ),
      // What each instance's balancer sees of its dependencies (lib/introspection.ts).
      viewsDue
        ? Promise.all(
            rows.map((p) =>
              live(p)
                ? getJson<{ instance: string; services: ResolverSnapshot[] }>(
                    `http://127.0.0.1:${p.port}/internal/balancer`,
                    800,
                  )
                : undefined,
            ),
          )
        : undefined,
    ]);
    if (views) {
      viewsAt = Date.now();
      balancers = rows.flatMap((p, i) => {
        const view = views[i];
        // the gateway and auth share a port with their successors: trust the instance the view names
        return view && Array.isArray(view.services)
          ? [{ caller: view.instance, callerService: p.service, services: view.services }]
          : [];
      });
      edges.add(viewsAt, balancers);
    }
    const load = instanceLoad(balancers);
    const instances = rows.map((p, i) => {
      const health = healths[i];
      const entry = (registered.get(p.service) ?? []).find(
        (r) => r.id === p.id || r.meta?.instance === p.id,
      );
      return {
        id: p.id,
        service: p.service,
        pid: p.pid,
        port: p.port,
        process: p.state,
        rssMb: p.rssMb,
        status: health?.status ?? 'unreachable',
        health: health?.health ?? 'DOWN',
        registered: entry ? (entry.healthy ? 'registered' : 'draining') : 'not registered',
        config: health?.config,
        breakers: health?.breakers ?? {},
        breakerMetrics: health?.breakerMetrics,
        leader: health?.leader,
        fencingToken: health?.fencingToken,
        uptimeS: health?.uptimeS,
        zone: entry?.zone ?? load.get(p.id)?.zone,
        // as its callers' balancers see it (summed or per caller)
        balancer: load.get(p.id),
      };
    });

    // breaker transitions (per instance and dependency), leadership transitions
    for (const instance of instances)
      for (const [dependency, state] of Object.entries(
        instance.breakers as Record<string, string>,
      )) {
        const key = `${instance.id} → ${dependency}`;
        const before = lastBreaker.get(key);
        if (before !== undefined && before !== state)
          push(breakerLog, `${key}: ${before} → ${state}`);
        lastBreaker.set(key, state);
      }
    const leader = instances.find((i) => i.leader === true);
    const leaderText = leader ? `${leader.id} (token ${leader.fencingToken ?? '?'})` : undefined;
    if (leaderText !== lastLeader && (lastLeader !== undefined || leaderText !== undefined))
      push(leaderLog, leaderText ? `leader: ${leaderText}` : 'no leader');
    lastLeader = leaderText;

    // configuration versions and what each changed
    if (config && Number(config.version ?? 0) !== lastVersion) {
      lastVersion = Number(config.version ?? 0);
      configHistory.unshift({
        version: Number(config.version ?? 0),
        at: Date.now(),
        changed: lastDocument ? changedPaths(lastDocument, config) : ['(first seen)'],
        document: config,
      });
      configHistory.length = Math.min(configHistory.length, 30);
      lastDocument = config;
    }

    if (Date.now() - tracesAt > 1500) {
      tracesAt = Date.now();
      const list = await getJson<{ traces: unknown[] }>(`${stack!.otlp}/traces?limit=80`);
      if (list) traces = list.traces;
    }

    snapshot = {
      at: Date.now(),
      urls: { gateway: stack!.gateway, otlp: stack!.otlp, control },
      services: (options.services ?? DEFAULT_SERVICES).map((service) => ({
        name: service,
        registered: (registered.get(service) ?? []).map((r) => ({
          id: r.meta?.instance ?? r.id,
          healthy: r.healthy,
        })),
      })),
      instances,
      edges: edges.rates(Date.now()),
      scenarios: scenarios.state(),
      config: { document: config ?? {}, history: configHistory },
      breakerLog,
      leader: leader ? { id: leader.id, fencingToken: leader.fencingToken } : undefined,
      leaderLog,
      traces,
      load: loadStats(),
    };
  }

  // One shopper's checkouts, as the load tool sends them (a fresh Idempotency-Key each, a traceparent
  // so the answer names its trace).
  const password = options.shopperPassword ?? process.env.SHOP_SHOPPER_PASSWORD ?? 'shopper';
  let token: { value: string; until: number } | undefined;
  const shopperToken = async () => {
    if (token && token.until > Date.now()) return token.value;
    const res = await fetch(`${stack.issuer}/token`, {
      method: 'POST',
      body: new URLSearchParams({ grant_type: 'password', username: 'dashboard', password }),
      signal: AbortSignal.timeout(5000),
    });
    const body = (await res.json()) as { access_token: string; expires_in?: number };
    if (!res.ok || !body.access_token)
      throw new Error(`login at the issuer failed (${res.status})`);
    token = {
      value: body.access_token,
      until: Date.now() + ((body.expires_in ?? 300) - 30) * 1000,
    };
    return token.value;
  };
  const hex = (bytes: number) => randomBytes(bytes).toString('hex');
  async function checkout(): Promise<{
    status: number;
    ms: number;
    traceId: string;
    body: unknown;
  }> {
    const traceId = hex(16);
    const t0 = performance.now();
    try {
      const res = await fetch(`${stack!.gateway}/api/checkout`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${await shopperToken()}`,
          'content-type': 'application/json',
          'idempotency-key': randomUUID(),
          traceparent: `00-${traceId}-${hex(8)}-01`,
        },
        body: JSON.stringify({ items: [{ sku: 'tea-sencha', qty: 1 }] }),
        signal: AbortSignal.timeout(10_000),
      });
      const text = await res.text();
      let body: unknown = text;
      try {
        body = JSON.parse(text);
      } catch {}
      return { status: res.status, ms: performance.now() - t0, traceId, body };
    } catch (error) {
      return { status: 0, ms: performance.now() - t0, traceId, body: (error as Error).message };
    }
  }

  // A bounded load: `rps` checkouts per second for at most `seconds`.
  const samples: { at: number; ms: number; status: number }[] = [];
  let load: { rps: number; until: number; timer: NodeJS.Timeout } | undefined;
  const stopLoad = () => {
    if (load) clearInterval(load.timer);
    load = undefined;
  };
  const startLoad = (rps: number, seconds: number) => {
    stopLoad();
    const timer = setInterval(() => {
      if (!load || Date.now() > load.until) return stopLoad();
      void checkout().then((r) => {
        samples.push({ at: Date.now(), ms: r.ms, status: r.status });
        if (samples.length > 5000) samples.splice(0, samples.length - 5000);
      });
    }, 1000 / rps);
    load = { rps, until: Date.now() + seconds * 1000, timer };
  };
  const loadStats = () => {
    const since = Date.now() - 10_000;
    const recent = samples.filter((s) => s.at >= since);
    const sorted = recent.map((s) => s.ms).sort((a, b) => a - b);
    const errors: Record<string, number> = {};
    for (const s of recent)
      if (s.status < 200 || s.status >= 300) errors[s.status] = (errors[s.status] ?? 0) + 1;
    return {
      running: load
        ? { rps: load.rps, secondsLeft: Math.max(0, Math.round((load.until - Date.now()) / 1000)) }
        : undefined,
      throughput:
        Math.round((recent.filter((s) => s.status >= 200 && s.status < 300).length / 10) * 10) / 10,
      p99: sorted.length
        ? Math.round(
            sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))] as number,
          )
        : undefined,
      requests: recent.length,
      errors,
    };
  };

  const clients = new Set<ServerResponse>();
  let busy = false;
  const tick = async () => {
    if (busy) return;
    busy = true;
    try {
      await collect();
      const data = `event: snapshot\ndata: ${JSON.stringify(snapshot)}\n\n`;
      for (const res of clients) res.write(data);
    } finally {
      busy = false;
    }
  };
  await tick();
  const timer = setInterval(() => void tick(), intervalMs);
  timer.unref();

  const send = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  };
  const forward = async (req: IncomingMessage, res: ServerResponse, target: string) => {
    let body = '';
    for await (const chunk of req) body += chunk;
    const answer = await fetch(target, {
      method: req.method ?? 'POST',
      headers: { 'content-type': 'application/json' },
      ...(body ? { body } : {}),
      signal: AbortSignal.timeout(120_000),
    });
    res.writeHead(answer.status, { 'content-type': 'application/json' }).end(await answer.text());
    void tick();
  };

  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://dashboard');
    const path = url.pathname;
    try {
      const file = FILES[path];
      if (req.method === 'GET' && file) {
        res.writeHead(200, { 'content-type': file[1], 'cache-control': 'no-store' });
        res.end(await readFile(join(PUBLIC, file[0])));
        return;
      }
      if (path === '/') {
        res.writeHead(302, { location: '/dashboard' }).end();
        return;
      }
      if (req.method === 'GET' && path === '/dashboard/events') {
        res.writeHead(200, {
          'content-type': 'text/event-stream',
          'cache-control': 'no-store',
          connection: 'keep-alive',
        });
        res.write(`retry: 1000\nevent: snapshot\ndata: ${JSON.stringify(snapshot)}\n\n`);
        clients.add(res);
        req.on('close', () => clients.delete(res));
        return;
      }
      if (req.method === 'GET' && path === '/dashboard/api/state') return send(res, 200, snapshot);
      if (req.method === 'GET' && path.startsWith('/dashboard/api/traces/')) {
        const id = encodeURIComponent(
          decodeURIComponent(path.slice('/dashboard/api/traces/'.length)),
        );
        const trace = await getJson(`${stack.otlp}/traces/${id}`, 3000);
        return trace ? send(res, 200, trace) : send(res, 404, { error: 'not_found' });
      }
      if (req.method === 'POST' && path === '/dashboard/api/checkout') {
        const result = await checkout();
        samples.push({ at: Date.now(), ms: result.ms, status: result.status });
        return send(res, 200, result);
      }
      if (req.method === 'POST' && path === '/dashboard/api/load') {
        let text = '';
        for await (const chunk of req) text += chunk;
        const { rps = 0, seconds = 30 } = (text ? JSON.parse(text) : {}) as {
          rps?: number;
          seconds?: number;
        };
        if (rps > 0) startLoad(Math.min(rps, 100), Math.min(Math.max(seconds, 1), 300));
        else stopLoad();
        return send(res, 200, loadStats());
      }
      const run = /^\/dashboard\/api\/scenarios\/(\d+)\/run$/.exec(path);
      if (req.method === 'POST' && run) {
        const answer = scenarios.start(Number(run[1]));
        return send(res, answer.status, answer.body);
      }
      if (req.method === 'POST' && path === '/dashboard/api/scenarios/stop') {
        scenarios.stop();
        return send(res, 202, scenarios.state());
      }
      if (req.method === 'PUT' && path === '/dashboard/api/config')
        return await forward(req, res, `${control}/config${url.search}`);
      if (
        req.method === 'POST' &&
        (path.startsWith('/dashboard/api/processes/') ||
          path === '/dashboard/api/orders/leader/kill' ||
          path === '/dashboard/api/rolling-restart' ||
          path === '/dashboard/api/redis/pause')
      )
        return await forward(
          req,
          res,
          `${control}${path.slice('/dashboard/api'.length)}${url.search}`,
        );
      send(res, 404, { error: 'not_found' });
    } catch (error) {
      if (!res.headersSent) send(res, 502, { error: 'failed', message: (error as Error).message });
      else res.end();
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  // In the registry as `dashboard`: the gateway forwards /dashboard to it by name.
  let registration: ServiceRegistration | undefined;
  if (options.register ?? true) {
    registration = await register(
      registry,
      { id: `dashboard-${port}`, service: 'dashboard', address: '127.0.0.1', port },
      { server, signals: [], drainMs: 0 },
    ).catch(() => undefined);
  }
  let closing: Promise<void> | undefined;
  return {
    url: `http://127.0.0.1:${port}/dashboard`,
    close: () =>
      (closing ??= (async () => {
        clearInterval(timer);
        stopLoad();
        scenarios.stop();
        await registration?.close().catch(() => {});
        for (const res of clients) res.end();
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
        for (const watch of watches) watch.dispose();
        await registry.close();
        redis.disconnect();
      })()),
  };
}
