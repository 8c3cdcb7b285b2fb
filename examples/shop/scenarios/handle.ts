/**
 * What a scenario needs from the stack, as one interface with two implementations: the stack
 * object of this process (`npm run shop:scenarios` starts it) and a running stack reached through
 * its control API (the dashboard's "run scenario" button, `runScenario()` in run.ts).
 */
import { Redis } from 'ioredis';
import type { Stack } from '../stack/stack.ts';

/** One service instance as the scenarios see it. */
export interface InstanceInfo {
  id: string;
  service: string;
  port: number;
  pid: number | undefined;
  state: string;
}

/** A span as the OTLP receiver stores it (the fields the scenarios read). */
export interface SpanInfo {
  kind: string;
  service: string;
}

export interface Credentials {
  shopperPassword: string;
  adminPassword?: string | undefined;
  adminTotpSecret?: string | undefined;
  opsClientId?: string | undefined;
  opsClientSecret?: string | undefined;
}

export interface StackHandle {
  readonly gatewayUrl: string;
  readonly issuerUrl: string;
  readonly credentials: Credentials;
  /** Every service instance whose process runs (Redis excluded), in start order. */
  running(): Promise<InstanceInfo[]>;
  /** Running instances of one service that are not being stopped. */
  instancesOf(service: string): Promise<InstanceInfo[]>;
  /** The instance's `/health` JSON, or undefined when it does not answer. */
  // biome-ignore lint/suspicious/noExplicitAny: the services' JSON, read field by field
  healthOf(instance: InstanceInfo): Promise<Record<string, any> | undefined>;
  /** The orders instance that holds the job lease (from `/health`), or undefined. */
  findLeader(): Promise<InstanceInfo | undefined>;
  /** SIGKILL (a crash: it stays down). */
  kill(id: string): Promise<void>;
  /** Starts a killed or stopped instance again and waits until it is ready. */
  start(id: string): Promise<void>;
  /** Replaces every instance (of `service`), one at a time; the steps as `old -> new`. */
  rollingRestart(service?: string | undefined): Promise<string[]>;
  /** Deep-merges into the live config document (null deletes); answers the new version. */
  pushConfig(values: Record<string, unknown>): Promise<{ version: number }>;
  pauseRedis(ms: number): Promise<void>;
  /** The hash `shop:config:applied`: instance id -> JSON of what it applied or refused. */
  configApplied(): Promise<Record<string, string>>;
  /** The spans of one trace at the OTLP receiver (empty when it has none yet). */
  trace(traceId: string): Promise<SpanInfo[]>;
  close(): Promise<void>;
}

const healthFromPort = async (port: number) => {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/health`, {
      signal: AbortSignal.timeout(1_000),
    });
    // biome-ignore lint/suspicious/noExplicitAny: JSON
    return (await res.json()) as Record<string, any>;
  } catch {
    return undefined;
  }
};

async function leaderAmong(
  instances: InstanceInfo[],
  healthOf: StackHandle['healthOf'],
): Promise<InstanceInfo | undefined> {
  for (const instance of instances)
    if ((await healthOf(instance))?.leader === true) return instance;
  return undefined;
}

/** The stack object of this process (`startStack()`). */
export function localHandle(stack: Stack): StackHandle {
  const info = (i: {
    id: string;
    service: string;
    port: number;
    pid: number | undefined;
    state: string;
  }): InstanceInfo => ({ id: i.id, service: i.service, port: i.port, pid: i.pid, state: i.state });
  const handle: StackHandle = {
    gatewayUrl: stack.gatewayUrl,
    issuerUrl: stack.issuerUrl,
    credentials: {
      ...stack.secrets,
      opsClientId: stack.opsClient.clientId,
      opsClientSecret: stack.opsClient.clientSecret,
    },
    running: async () => stack.supervisor.running().map(info),
    instancesOf: async (service) => stack.instancesOf(service).map(info),
    healthOf: (instance) => healthFromPort(instance.port),
    findLeader: async () => leaderAmong(await handle.instancesOf('orders'), handle.healthOf),
    kill: (id) => stack.supervisor.kill(id),
    start: async (id) => {
      await stack.start(id);
    },
    rollingRestart: async (service) => {
      const steps: string[] = [];
      await stack.rollingRestart(service, (s) => steps.push(s));
      return steps;
    },
    pushConfig: async (values) => ({ version: (await stack.pushConfig(values)).version }),
    pauseRedis: (ms) => stack.pauseRedis(ms),
    configApplied: () => stack.redis.hgetall('shop:config:applied'),
    trace: async (traceId) => stack.receiver.trace(traceId) ?? [],
    close: async () => {},
  };
  return handle;
}

const GONE = new Set(['stopped', 'exited', 'killed']);

/**
 * A running stack reached through its control API (`npm run shop` prints its URL): processes,
 * faults and config go through the API, `shop:config:applied` is read from the stack's Redis
 * (its URL from `GET /stack`), traces from its OTLP receiver.
 */
export async function remoteHandle(options: {
  controlUrl: string;
  gatewayUrl?: string | undefined;
  credentials?: Partial<Credentials> | undefined;
  signal?: AbortSignal | undefined;
}): Promise<StackHandle> {
  const control = options.controlUrl.replace(/\/$/, '');
  const call = async <T>(method: string, path: string, body?: unknown, timeoutMs = 120_000) => {
    const res = await fetch(`${control}${path}`, {
      method,
      ...(body === undefined
        ? {}
        : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await res.text();
    if (!res.ok)
      throw new Error(`control API ${method} ${path}: ${res.status} ${text.slice(0, 200)}`);
    return (text ? JSON.parse(text) : {}) as T;
  };
  const about = await call<{
    gateway: string;
    issuer: string;
    otlp: string;
    redis: string;
    credentials?: Partial<Credentials>;
  }>('GET', '/stack', undefined, 5_000);
  const credentials: Credentials = {
    shopperPassword: process.env.SHOP_SHOPPER_PASSWORD ?? 'shopper',
    ...(about.credentials ?? {}),
    ...Object.fromEntries(
      Object.entries(options.credentials ?? {}).filter(([, v]) => v !== undefined),
    ),
  };
  const redis = new Redis(about.redis, { maxRetriesPerRequest: 1, lazyConnect: true });
  await redis.connect();
  interface Row extends InstanceInfo {
    startedAt?: string;
  }
  const running = async (): Promise<InstanceInfo[]> => {
    const { processes } = await call<{ processes: Row[] }>('GET', '/processes', undefined, 5_000);
    return processes
      .filter((p) => p.service !== 'redis' && !GONE.has(p.state))
      .map((p) => ({ id: p.id, service: p.service, port: p.port, pid: p.pid, state: p.state }));
  };
  const handle: StackHandle = {
    gatewayUrl: options.gatewayUrl ?? about.gateway,
    issuerUrl: about.issuer,
    credentials,
    running,
    instancesOf: async (service) =>
      (await running()).filter((i) => i.service === service && i.state !== 'stopping'),
    healthOf: (instance) => healthFromPort(instance.port),
    findLeader: async () => leaderAmong(await handle.instancesOf('orders'), handle.healthOf),
    kill: async (id) => {
      await call('POST', `/processes/${encodeURIComponent(id)}/kill`);
    },
    start: async (id) => {
      await call('POST', `/processes/${encodeURIComponent(id)}/start`);
    },
    rollingRestart: async (service) =>
      (
        await call<{ steps: string[] }>(
          'POST',
          `/rolling-restart${service ? `?service=${encodeURIComponent(service)}` : ''}`,
          undefined,
          300_000,
        )
      ).steps,
    pushConfig: async (values) => ({
      version: (await call<{ version: number }>('PUT', '/config', values)).version,
    }),
    pauseRedis: async (ms) => {
      await call('POST', '/redis/pause', { ms });
    },
    configApplied: () => redis.hgetall('shop:config:applied'),
    trace: async (traceId) => {
      try {
        const res = await fetch(`${about.otlp}/traces/${traceId}`, {
          signal: AbortSignal.timeout(2_000),
        });
        if (!res.ok) return [];
        return ((await res.json()) as { spans?: SpanInfo[] }).spans ?? [];
      } catch {
        return [];
      }
    },
    close: async () => {
      redis.disconnect();
    },
  };
  return handle;
}
