/**
 * startStack(): the whole shop in one call — a private redis-server (unless REDIS_URL), the OTLP
 * receiver (in this process), every service instance as a child process, readiness, and the
 * operations the control API and the scenarios use (kill/stop/restart an instance, rolling
 * restart, kill the orders leader, pause Redis, push config), plus RSS and time-to-ready.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Redis } from 'ioredis';
import { type OtlpReceiver, startOtlpReceiver } from '../otlp/receiver.ts';
import { freePort, portInUse } from './ports.ts';
import { type Instance, pssMb, rssMb, Supervisor } from './processes.ts';
import { type PrivateRedis, startPrivateRedis } from './redis.ts';
import { OPS_CLIENT, SERVICES, type ServiceSpec, USER_SCOPES } from './topology.ts';

export const SHOP_DIR = join(dirname(fileURLToPath(import.meta.url)), '..');

export interface StackOptions {
  /** Gateway port; default SHOP_PORT, else 8080; 0 = a free port. */
  gatewayPort?: number | undefined;
  /** Existing Redis; default REDIS_URL, else a private redis-server. */
  redisUrl?: string | undefined;
  /** OTLP receiver port; default SHOP_OTLP_PORT, else 4318 when free, else a free port. */
  otlpPort?: number | undefined;
  /** Log sink for child lines; default prefixed to stdout. */
  log?: ((line: string, instance: Instance) => void) | undefined;
  /** Progress messages of the launcher itself. */
  say?: ((message: string) => void) | undefined;
  color?: boolean | undefined;
  /** Key of the live config document in Redis. */
  configKey?: string | undefined;
  /** Services to run (default all of topology.ts). */
  services?: ServiceSpec[] | undefined;
  readyTimeoutMs?: number | undefined;
  /** Extra env for every service. */
  env?: Record<string, string> | undefined;
  /** Aborting it while the stack starts stops everything started so far (startStack rejects). */
  signal?: AbortSignal | undefined;
  /** Node flags for every service process; default SHOP_NODE_FLAGS, else {@link DEFAULT_NODE_FLAGS}. */
  nodeFlags?: string[] | undefined;
  /**
   * Run the services as JavaScript built by stack/build.ts (built here first, ~0.2 s) rather than
   * their TypeScript entries through Node's type stripping, which costs each process ~17 MB.
   * Default true; SHOP_TYPESCRIPT=1 runs the .ts files.
   */
  compiled?: boolean | undefined;
}

/**
 * Node flags of every service process, each measured on this stack (README "Resources"):
 * - `--max-semi-space-size=1`: a 1 MB young generation instead of up to 16 MB per semi-space; the
 *   services allocate little per request.
 * - `--optimize-for-size`: V8's heap sizing and growing for memory rather than speed (~4 MB per
 *   process at ready, ~6 MB under load).
 * - `--no-opt --no-maglev`: no optimizing compilers; code runs in the interpreter and the baseline
 *   compiler (Sparkplug). At the shop's few dozen requests a second the optimizing tiers never
 *   paid for themselves: the stack used as much CPU per request without them (compiling is CPU
 *   too), and each process saves ~5 MB of V8's own compiler code paged in plus the optimized code.
 */
export const DEFAULT_NODE_FLAGS = [
  '--max-semi-space-size=1',
  '--optimize-for-size',
  '--no-opt',
  '--no-maglev',
];

/** `services/orders/index.ts` → `dist/services/orders/index.js` (stack/build.ts's layout). */
export const compiledScript = (script: string) => `dist/${script.replace(/\.ts$/, '.js')}`;

/** Runs stack/build.ts in a child process (esbuild never loads into the launcher). */
function buildServices(): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [join(SHOP_DIR, 'stack', 'build.ts')],
      { cwd: SHOP_DIR },
      (error, _stdout, stderr) =>
        error
          ? reject(new Error(`building the services failed: ${stderr || error.message}`))
          : resolve(),
    );
  });
}

export interface Secrets {
  adminPassword: string;
  adminTotpSecret: string;
  shopperPassword: string;
}

export type Stack = Awaited<ReturnType<typeof startStack>>;

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
const base32Secret = () => [...randomBytes(20)].map((b) => BASE32[b % 32]).join('');

export async function startStack(options: StackOptions = {}) {
  const t0 = performance.timeOrigin + performance.now();
  const startedAt = Date.now();
  const say = options.say ?? ((m: string) => console.log(m));
  const services = options.services ?? SERVICES;
  const configKey = options.configKey ?? process.env.SHOP_CONFIG_KEY ?? 'shop:config';

  const compiled = options.compiled ?? process.env.SHOP_TYPESCRIPT !== '1';
  // the build runs while Redis and the receiver start
  const built = compiled ? buildServices() : Promise.resolve();
  built.catch(() => {}); // awaited below; a failure then stops the stack

  let privateRedis: PrivateRedis | undefined;
  const givenRedis = options.redisUrl ?? process.env.REDIS_URL;
  if (!givenRedis) privateRedis = await startPrivateRedis();
  const redisUrl: string = givenRedis ?? (privateRedis as PrivateRedis).url;
  if (privateRedis) say(`redis-server (private) ${redisUrl}`);
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1, lazyConnect: true });
  await redis.connect();

  let otlpPort =
    options.otlpPort ??
    (process.env.SHOP_OTLP_PORT ? Number(process.env.SHOP_OTLP_PORT) : undefined);
  if (otlpPort === undefined) otlpPort = (await portInUse(4318)) ? 0 : 4318;
  const receiver: OtlpReceiver = await startOtlpReceiver({
    port: otlpPort,
    maxTraces: 1000,
    forward: process.env.SHOP_OTLP_FORWARD || undefined,
  });

  const envGatewayPort =
    process.env.SHOP_PORT !== undefined ? Number(process.env.SHOP_PORT) : undefined;
  let gatewayPort = options.gatewayPort ?? envGatewayPort ?? 8080;
  if (gatewayPort === 0) gatewayPort = await freePort();
  else if (await portInUse(gatewayPort))
    throw new Error(
      `port ${gatewayPort} is in use: stop what runs there or set SHOP_PORT to another port (0 = any free port)`,
    );
  const authPort = process.env.SHOP_AUTH_PORT
    ? Number(process.env.SHOP_AUTH_PORT)
    : await freePort();
  const issuerUrl = `http://127.0.0.1:${authPort}`;

  const secrets: Secrets = {
    adminPassword: process.env.SHOP_ADMIN_PASSWORD ?? randomBytes(9).toString('base64url'),
    adminTotpSecret: process.env.SHOP_ADMIN_TOTP_SECRET ?? base32Secret(),
    shopperPassword: process.env.SHOP_SHOPPER_PASSWORD ?? 'shopper',
  };
  const clients = services
    .filter((s) => s.name !== 'auth')
    .map((s) => ({
      clientId: s.name,
      clientSecret: randomBytes(18).toString('base64url'),
      scopes: s.scopes,
    }));
  const opsClient = { ...OPS_CLIENT, clientSecret: randomBytes(18).toString('base64url') };
  clients.push(opsClient);
  const clientOf = (name: string) => clients.find((c) => c.clientId === name);

  const nodeFlags =
    options.nodeFlags ??
    (process.env.SHOP_NODE_FLAGS !== undefined
      ? process.env.SHOP_NODE_FLAGS.split(/\s+/).filter(Boolean)
      : DEFAULT_NODE_FLAGS);
  const supervisor = new Supervisor({
    cwd: SHOP_DIR,
    log: options.log,
    color: options.color,
    graceMs: 10_000,
    nodeFlags: compiled
      ? [...nodeFlags, '--import', pathToFileURL(join(SHOP_DIR, 'dist/stack/http-facade.js')).href]
      : nodeFlags,
  });
  const sequence = new Map<string, number>();

  const envFor = (spec: ServiceSpec, id: string, port: number): Record<string, string> => {
    const client = clientOf(spec.name);
    return {
      SERVICE_NAME: spec.name,
      INSTANCE_ID: id,
      PORT: String(port),
      REDIS_URL: redisUrl,
      SHOP_ISSUER_URL: issuerUrl,
      SHOP_AUDIENCE: 'shop',
      SHOP_CONFIG_DIR: join(SHOP_DIR, 'config'),
      SHOP_CONFIG_KEY: configKey,
      ...(client
        ? { SHOP_CLIENT_ID: client.clientId, SHOP_CLIENT_SECRET: client.clientSecret }
        : {}),
      ...(spec.name === 'auth'
        ? {
            SHOP_AUTH_CLIENTS: JSON.stringify(clients),
            SHOP_ADMIN_PASSWORD: secrets.adminPassword,
            SHOP_ADMIN_TOTP_SECRET: secrets.adminTotpSecret,
            SHOP_SHOPPER_PASSWORD: secrets.shopperPassword,
            SHOP_USER_SCOPES: USER_SCOPES.join(' '),
          }
        : {}),
      // glibc's malloc keeps up to 8 arenas per core for the threads that allocate (V8's workers,
      // libuv's pool); two are plenty for a service and hold less memory once a load has passed
      MALLOC_ARENA_MAX: process.env.MALLOC_ARENA_MAX ?? '2',
      // The pino instrumentation only adds trace ids to log lines, which lib/service.ts's
      // `mixin: pinoMixin` already does; with it and koa's off, a service needs no ESM loader hook
      // (import-in-the-middle), ~5 MB per process. Inventory (Koa) keeps koa's.
      OTEL_NODE_DISABLED_INSTRUMENTATIONS:
        process.env.OTEL_NODE_DISABLED_INSTRUMENTATIONS ??
        (spec.name === 'inventory' ? 'pino' : 'pino,koa'),
      OTEL_SERVICE_NAME: spec.name,
      OTEL_RESOURCE_ATTRIBUTES: `service.instance.id=${id}`,
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_BSP_SCHEDULE_DELAY: '500',
      OTEL_METRIC_EXPORT_INTERVAL: '15000',
      ...(options.env ?? {}),
    };
  };

  const nextId = (service: string) => {
    const n = (sequence.get(service) ?? 0) + 1;
    sequence.set(service, n);
    return `${service}-${n}`;
  };

  const launch = async (
    spec: ServiceSpec,
    id = nextId(spec.name),
    port?: number,
  ): Promise<Instance> => {
    if (stopping.promise) throw new Error('the stack is stopping');
    const p =
      port ??
      (spec.fixedPort === 'gateway'
        ? gatewayPort
        : spec.fixedPort === 'auth'
          ? authPort
          : await freePort());
    const script = join(SHOP_DIR, compiled ? compiledScript(spec.script) : spec.script);
    if (!existsSync(script)) throw new Error(`${spec.name}: ${spec.script} does not exist`);
    return supervisor.start({ id, service: spec.name, port: p, script, env: envFor(spec, id, p) });
  };

  const specOf = (service: string) => {
    const spec = services.find((s) => s.name === service);
    if (!spec) throw new Error(`unknown service ${service}`);
    return spec;
  };

  const stopping = { done: false as boolean, promise: undefined as Promise<void> | undefined };
  const stop = () => {
    stopping.promise ??= (async () => {
      await supervisor.stopAll(10_000);
      await receiver.close();
      redis.disconnect();
      await privateRedis?.stop();
      stopping.done = true;
    })();
    return stopping.promise;
  };
  process.once('exit', () => {
    supervisor.killAllSync();
    privateRedis?.process.kill('SIGKILL');
  });
  // Ctrl-C while starting: stop what was started (the waits below then fail and rethrow)
  options.signal?.addEventListener('abort', () => void stop(), { once: true });
  if (options.signal?.aborted) void stop();

  try {
    await built;
    // auth first (every other service needs its JWKS and tokens), then the rest together
    const order = [
      services.filter((s) => s.name === 'auth'),
      services.filter((s) => s.name !== 'auth'),
    ];
    for (const group of order) {
      const started: Instance[] = [];
      for (const spec of group)
        for (let i = 0; i < spec.instances; i++) started.push(await launch(spec));
      await Promise.all(
        started.map((i) =>
          supervisor.waitReady(
            i,
            options.readyTimeoutMs ?? Number(process.env.SHOP_READY_TIMEOUT_MS ?? 90_000),
          ),
        ),
      );
    }
  } catch (error) {
    await stop();
    throw error;
  }
  const readyS = (performance.timeOrigin + performance.now() - t0) / 1000;

  const live = () => supervisor.running().filter((i) => i.state !== 'stopping');
  const instancesOf = (service: string) => live().filter((i) => i.service === service);

  async function healthOf(instance: Instance): Promise<Record<string, any> | undefined> {
    try {
      const res = await fetch(`http://127.0.0.1:${instance.port}/health`, {
        signal: AbortSignal.timeout(1_000),
      });
      return (await res.json()) as Record<string, any>;
    } catch {
      return undefined;
    }
  }

  /** The orders instance that holds the job lease (from /health), or undefined. */
  async function findLeader(): Promise<Instance | undefined> {
    for (const instance of instancesOf('orders')) {
      const health = await healthOf(instance);
      if (health?.leader === true) return instance;
    }
    return undefined;
  }

  async function restart(id: string): Promise<Instance> {
    const old = supervisor.instances.get(id);
    if (!old) throw new Error(`unknown instance ${id}`);
    await supervisor.stop(id);
    supervisor.instances.delete(id);
    const instance = await launch(specOf(old.service), undefined, old.port);
    await supervisor.waitReady(instance);
    return instance;
  }

  /** Start a replacement, wait until it is ready, then drain and stop the old one. */
  async function replace(id: string): Promise<Instance> {
    const old = supervisor.instances.get(id);
    if (!old) throw new Error(`unknown instance ${id}`);
    const spec = specOf(old.service);
    const fresh = await launch(spec);
    await supervisor.waitReady(fresh);
    await supervisor.stop(id);
    supervisor.instances.delete(id);
    return fresh;
  }

  async function rollingRestart(
    service?: string,
    onStep?: (message: string) => void,
  ): Promise<void> {
    const names = service ? [service] : services.map((s) => s.name);
    for (const name of names)
      for (const instance of instancesOf(name)) {
        const fresh = await replace(instance.id);
        onStep?.(`${instance.id} -> ${fresh.id}`);
      }
  }

  async function readConfig(): Promise<Record<string, any>> {
    const raw = await redis.get(configKey);
    return raw ? (JSON.parse(raw) as Record<string, any>) : {};
  }

  /** Replaces (`merge: false`) or deep-merges the live config document; a null value deletes. */
  async function pushConfig(
    values: Record<string, unknown>,
    { merge = true } = {},
  ): Promise<{ version: number; document: Record<string, unknown> }> {
    const current = await readConfig();
    const { version: _v, ...rest } = current;
    const next = merge ? deepMerge(rest, values) : values;
    const version = Number(current.version ?? 0) + 1;
    const document = { ...next, version };
    await redis.set(configKey, JSON.stringify(document));
    await redis.publish(`${configKey}:changed`, String(version));
    return { version, document };
  }

  async function pauseRedis(ms: number): Promise<void> {
    await redis.call('CLIENT', 'PAUSE', String(ms), 'ALL');
  }

  function processes() {
    const rows = [...supervisor.instances.values()].map((i) => ({
      id: i.id,
      service: i.service,
      pid: i.pid,
      port: i.port,
      url: `http://127.0.0.1:${i.port}`,
      state: i.state,
      restarts: i.restarts,
      startedAt: new Date(i.startedAt).toISOString(),
      rssMb: Math.round(rssMb(i.child?.exitCode === null ? i.pid : undefined) * 10) / 10,
    }));
    if (privateRedis)
      rows.push({
        id: 'redis',
        service: 'redis',
        pid: privateRedis.pid,
        port: privateRedis.port,
        url: redisUrl,
        state: 'ready',
        restarts: 0,
        startedAt: new Date(startedAt).toISOString(),
        rssMb: Math.round(rssMb(privateRedis.pid) * 10) / 10,
      });
    return rows;
  }

  /** Resident memory of the whole stack: every child, redis and this launcher (which holds the receiver). */
  function stackMemory(measure: (pid: number | undefined) => number): number {
    let total = measure(process.pid);
    for (const i of supervisor.running()) total += measure(i.pid);
    if (privateRedis) total += measure(privateRedis.pid);
    return Math.round(total);
  }
  /** Resident memory of the whole stack: every child, redis and this launcher (which holds the receiver). */
  const stackRssMb = () => stackMemory(rssMb);
  /** The same as proportional set size: shared pages (the node binary) counted once overall. */
  const stackPssMb = () => stackMemory(pssMb);

  return {
    gatewayUrl: `http://127.0.0.1:${gatewayPort}`,
    issuerUrl,
    redisUrl,
    otlpUrl: receiver.url,
    receiver,
    redis,
    secrets,
    opsClient,
    configKey,
    supervisor,
    readyS,
    services,
    instancesOf,
    healthOf,
    findLeader,
    restart,
    replace,
    rollingRestart,
    readConfig,
    pushConfig,
    pauseRedis,
    processes,
    stackRssMb,
    stackPssMb,
    start: (id: string) => {
      const old = supervisor.instances.get(id);
      if (!old) throw new Error(`unknown instance ${id}`);
      if (old.child && old.child.exitCode === null && old.child.signalCode === null)
        return Promise.resolve(old);
      supervisor.instances.delete(id);
      return launch(specOf(old.service), undefined, old.port).then(async (i) => {
        await supervisor.waitReady(i);
        return i;
      });
    },
    stop,
  };
}

function deepMerge(base: Record<string, any>, patch: Record<string, any>): Record<string, any> {
  const out: Record<string, any> = { ...base };
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key];
    else if (
      typeof value === 'object' &&
      !Array.isArray(value) &&
      typeof out[key] === 'object' &&
      out[key] !== null &&
      !Array.isArray(out[key])
    )
      out[key] = deepMerge(out[key], value as Record<string, any>);
    else out[key] = value;
  }
  return out;
}
