/**
 * What every scenario gets: the running stack, shoppers' tokens, the operator token (client
 * credentials, scope ops:read) for the services' diagnostic routes, and small helpers.
 */
import { randomUUID } from 'node:crypto';
import { clientCredentials } from '@ballast/auth';
import { type Client, gatewayClient, loginShoppers, type Shopper } from '../load/load.ts';
import type { InstanceInfo, StackHandle } from './handle.ts';

// biome-ignore lint/suspicious/noExplicitAny: JSON answers of the services, read field by field
export type Json = Record<string, any>;

export interface Context {
  stack: StackHandle;
  shoppers: Shopper[];
  client: Client;
  skus: string[];
  ops: { getToken(): Promise<string>; invalidate(token?: string): void; close(): Promise<void> };
  /** Logs the scenario shoppers in again (their tokens die with a rotated-away key). */
  relogin(): Promise<void>;
  /** GET a service instance's diagnostic route with the operator token. */
  opsGet(instance: InstanceInfo, path: string): Promise<{ status: number; body: Json }>;
  /** GET from any live instance of a service. */
  opsGetAny(service: string, path: string): Promise<{ status: number; body: Json }>;
  checkout(
    shopper: Shopper,
    options?: {
      key?: string;
      sku?: string;
      qty?: number;
      traceparent?: string;
      timeoutMs?: number;
    },
  ): Promise<{ status: number; headers: Record<string, any>; body: Json; ms: number; key: string }>;
  /** Waits until every instance (but auth) reports `version` in shop:config:applied; returns per instance. */
  waitApplied(version: number, timeoutMs?: number): Promise<Map<string, Json>>;
  log(message: string): void;
  /** Aborted when the caller gives up: the loads stop (the scenario still clears its faults). */
  signal?: AbortSignal | undefined;
  /** Paced checkouts per second of the latency scenarios. */
  rps: number;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function createContext(
  stack: StackHandle,
  log: (m: string) => void,
  signal?: AbortSignal | undefined,
  rps = Number(process.env.SHOP_SCENARIO_RPS ?? 15),
): Promise<Context> {
  const { credentials } = stack;
  const shoppers = await loginShoppers(
    stack.issuerUrl,
    10,
    credentials.shopperPassword,
    'scenario',
  );
  const client = gatewayClient(stack.gatewayUrl);
  const { opsClientId, opsClientSecret } = credentials;
  const ops: Context['ops'] =
    opsClientId && opsClientSecret
      ? clientCredentials({
          tokenEndpoint: `${stack.issuerUrl}/token`,
          clientId: opsClientId,
          clientSecret: opsClientSecret,
          scopes: ['ops:read'],
        })
      : {
          getToken: () =>
            Promise.reject(
              new Error('needs the shop-ops client credentials (opsClientId, opsClientSecret)'),
            ),
          invalidate: () => {},
          close: async () => {},
        };
  const opsGet = async (instance: InstanceInfo, path: string) => {
    let token = await ops.getToken();
    const get = () =>
      fetch(`http://127.0.0.1:${instance.port}${path}`, {
        headers: { authorization: `Bearer ${token}` },
        signal: AbortSignal.timeout(5_000),
      });
    let res = await get();
    if (res.status === 401) {
      // the token's key was rotated away (scenario 6): drop it, get a new one, once
      await res.arrayBuffer();
      ops.invalidate(token);
      token = await ops.getToken();
      res = await get();
    }
    const text = await res.text();
    let body: Json = {};
    try {
      body = text ? (JSON.parse(text) as Json) : {};
    } catch {
      body = { text };
    }
    return { status: res.status, body };
  };
  const products = await client.send('GET', '/api/products', { token: shoppers[0]!.token });
  const list = (Array.isArray(products.body) ? products.body : (products.body?.products ?? [])) as {
    sku: string;
  }[];
  if (products.status !== 200 || list.length === 0)
    throw new Error(`GET /api/products answered ${products.status}`);
  return {
    stack,
    shoppers,
    client,
    skus: list.map((p) => p.sku),
    ops,
    opsGet,
    async relogin() {
      const fresh = await loginShoppers(
        stack.issuerUrl,
        10,
        credentials.shopperPassword,
        'scenario',
      );
      shoppers.splice(0, shoppers.length, ...fresh);
    },
    async opsGetAny(service, path) {
      const instance = (await stack.instancesOf(service)).find((i) => i.state === 'ready');
      if (!instance) throw new Error(`no ready ${service} instance`);
      return opsGet(instance, path);
    },
    async checkout(shopper, options = {}) {
      const key = options.key ?? randomUUID();
      const headers: Record<string, string> = { 'idempotency-key': key };
      if (options.traceparent) headers.traceparent = options.traceparent;
      const res = await client.send('POST', '/api/checkout', {
        token: shopper.token,
        body: { items: [{ sku: options.sku ?? list[0]!.sku, qty: options.qty ?? 1 }] },
        headers,
        timeoutMs: options.timeoutMs ?? 10_000,
      });
      return {
        status: res.status,
        headers: res.headers,
        body: (res.body ?? {}) as Json,
        ms: res.ms,
        key,
      };
    },
    async waitApplied(version, timeoutMs = 5_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const raw = await stack.configApplied();
        const result = new Map<string, Json>();
        for (const [id, value] of Object.entries(raw)) {
          try {
            result.set(id, JSON.parse(value) as Json);
          } catch {
            // ignore a malformed entry
          }
        }
        const expected = (await stack.running()).filter((i) => i.service !== 'auth');
        const done = expected.every((i) => String(result.get(i.id)?.version) === String(version));
        if (done || Date.now() > deadline) return result;
        await sleep(50);
      }
    },
    log,
    signal,
    rps,
  };
}

/** A paced load running in the background until stopped (for "under load" scenarios). */
export function backgroundLoad(
  ctx: Context,
  options: { rps: number; checkoutRatio: number; maxMs?: number },
) {
  const { stack } = ctx;
  const controller = new AbortController();
  const signal = ctx.signal ? AbortSignal.any([ctx.signal, controller.signal]) : controller.signal;
  // lazy import keeps the cycle simple
  const run = import('../load/load.ts').then(({ runLoad }) =>
    runLoad({
      gatewayUrl: stack.gatewayUrl,
      issuerUrl: stack.issuerUrl,
      shopperPassword: stack.credentials.shopperPassword,
      rps: options.rps,
      durationMs: options.maxMs ?? 600_000,
      checkoutRatio: options.checkoutRatio,
      users: 10,
      signal,
    }),
  );
  return {
    stop: async () => {
      controller.abort();
      return run;
    },
  };
}
