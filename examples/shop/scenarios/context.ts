/**
 * What every scenario gets: the running stack, shoppers' tokens, the operator token (client
 * credentials, scope ops:read) for the services' diagnostic routes, and small helpers.
 */
import { randomUUID } from 'node:crypto';
import { clientCredentials } from '@ballast/auth';
import { type Client, gatewayClient, loginShoppers, type Shopper } from '../load/load.ts';
import type { Instance } from '../stack/processes.ts';
import type { Stack } from '../stack/stack.ts';

// biome-ignore lint/suspicious/noExplicitAny: JSON answers of the services, read field by field
export type Json = Record<string, any>;

export interface Context {
  stack: Stack;
  shoppers: Shopper[];
  client: Client;
  skus: string[];
  ops: { getToken(): Promise<string>; invalidate(token?: string): void; close(): Promise<void> };
  /** Logs the scenario shoppers in again (their tokens die with a rotated-away key). */
  relogin(): Promise<void>;
  /** GET a service instance's diagnostic route with the operator token. */
  opsGet(instance: Instance, path: string): Promise<{ status: number; body: Json }>;
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
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function createContext(stack: Stack, log: (m: string) => void): Promise<Context> {
  const shoppers = await loginShoppers(
    stack.issuerUrl,
    10,
    stack.secrets.shopperPassword,
    'scenario',
  );
  const client = gatewayClient(stack.gatewayUrl);
  const ops = clientCredentials({
    tokenEndpoint: `${stack.issuerUrl}/token`,
    clientId: stack.opsClient.clientId,
    clientSecret: stack.opsClient.clientSecret,
    scopes: ['ops:read'],
  });
  const opsGet = async (instance: Instance, path: string) => {
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
        stack.secrets.shopperPassword,
        'scenario',
      );
      shoppers.splice(0, shoppers.length, ...fresh);
    },
    async opsGetAny(service, path) {
      const instance = stack.instancesOf(service).find((i) => i.state === 'ready');
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
        const raw = await stack.redis.hgetall('shop:config:applied');
        const result = new Map<string, Json>();
        for (const [id, value] of Object.entries(raw)) {
          try {
            result.set(id, JSON.parse(value) as Json);
          } catch {
            // ignore a malformed entry
          }
        }
        const expected = stack.supervisor.running().filter((i) => i.service !== 'auth');
        const done = expected.every((i) => String(result.get(i.id)?.version) === String(version));
        if (done || Date.now() > deadline) return result;
        await sleep(50);
      }
    },
    log,
  };
}

/** A paced load running in the background until stopped (for "under load" scenarios). */
export function backgroundLoad(
  stack: Stack,
  options: { rps: number; checkoutRatio: number; maxMs?: number },
) {
  const controller = new AbortController();
  // lazy import keeps the cycle simple
  const run = import('../load/load.ts').then(({ runLoad }) =>
    runLoad({
      gatewayUrl: stack.gatewayUrl,
      issuerUrl: stack.issuerUrl,
      shopperPassword: stack.secrets.shopperPassword,
      rps: options.rps,
      durationMs: options.maxMs ?? 600_000,
      checkoutRatio: options.checkoutRatio,
      users: 10,
      signal: controller.signal,
    }),
  );
  return {
    stop: async () => {
      controller.abort();
      return run;
    },
  };
}
