/**
 * Paced (open-loop) traffic against the shop's gateway: request i starts at t0 + i/rps whether or
 * not earlier ones have answered, so a slow system shows up as latency, not as a lower send rate
 * (a closed loop would hide it). Users log in at the issuer first (password grant); each request
 * is a browse (product list or one product) or a checkout of one random item with a fresh
 * `Idempotency-Key`. A request that fails before any answer (connection reset by a process that
 * is going away) is sent once more when it is replayable — a GET, or a POST with its
 * Idempotency-Key, the one rule of @ballast/kernel — as any careful client would; the retries are
 * counted and reported.
 */
import { randomUUID } from 'node:crypto';
import { isReplayableRequest } from '@ballast/kernel';
import { Agent, request } from 'undici';
import { Samples } from './stats.ts';

export type Kind = 'browse' | 'checkout';

export interface LoadOptions {
  gatewayUrl: string;
  issuerUrl: string;
  /** Requests started per second. */
  rps: number;
  durationMs: number;
  /** Share of checkouts (0..1); the rest browse. Default 0.3. */
  checkoutRatio?: number | undefined;
  /** Distinct shoppers (each logs in once). Default 20. */
  users?: number | undefined;
  shopperPassword?: string | undefined;
  /** Per-request timeout. Default 10 000 ms. */
  timeoutMs?: number | undefined;
  /** Resend a replayable request once when it failed before any answer. Default true. */
  retryConnectionErrors?: boolean | undefined;
  /** Called every `progressMs` with the running totals. */
  onProgress?: ((progress: Progress) => void) | undefined;
  progressMs?: number | undefined;
  signal?: AbortSignal | undefined;
  /** Quantity per checkout line. Default 1. */
  qty?: number | undefined;
}

export interface Progress {
  elapsedMs: number;
  durationMs: number;
  sent: number;
  done: number;
  failed: number;
  inFlight: number;
  p99Ms: number;
}

export interface LoadResult {
  durationS: number;
  targetRps: number;
  sent: number;
  completed: number;
  throughputRps: number;
  /** Successful requests per second. */
  goodputRps: number;
  retried: number;
  all: ReturnType<Samples['summary']>;
  browse: ReturnType<Samples['summary']>;
  checkout: ReturnType<Samples['summary']> & { throughputRps: number };
  /** Every checkout's latency (ms), in start order — for pooling several runs. */
  checkoutLatencies: number[];
  /** A few sample failures (status, body) for diagnosis. */
  failures: { kind: Kind; code: string; detail: string }[];
}

export interface Shopper {
  user: string;
  token: string;
}

/** Logs `count` shoppers in at the issuer (password grant). */
export async function loginShoppers(
  issuerUrl: string,
  count: number,
  password = 'shopper',
  prefix = 'shopper',
): Promise<Shopper[]> {
  const scope = 'shop:browse shop:cart shop:checkout shop:orders';
  return Promise.all(
    Array.from({ length: count }, async (_, i) => {
      const user = `${prefix}-${i + 1}`;
      const res = await fetch(`${issuerUrl}/token`, {
        method: 'POST',
        body: new URLSearchParams({ grant_type: 'password', username: user, password, scope }),
      });
      const body = (await res.json()) as { access_token?: string; error_description?: string };
      if (!res.ok || !body.access_token)
        throw new Error(`login of ${user} failed: ${res.status} ${body.error_description ?? ''}`);
      return { user, token: body.access_token };
    }),
  );
}

export interface Client {
  agent: Agent;
  send(
    method: 'GET' | 'POST',
    path: string,
    options: {
      token: string;
      body?: unknown;
      headers?: Record<string, string>;
      timeoutMs?: number;
    },
  ): Promise<{
    status: number;
    headers: Record<string, string | string[] | undefined>;
    body: any;
    ms: number;
    retried: boolean;
  }>;
  close(): Promise<void>;
}

/** An HTTP client for the gateway: keep-alive pool, per-request timeout, one resend of a replayable request on a connection error. */
export function gatewayClient(
  gatewayUrl: string,
  { retryConnectionErrors = true, connections = 128 } = {},
): Client {
  const agent = new Agent({ connections, keepAliveTimeout: 4_000, pipelining: 1 });
  const origin = new URL(gatewayUrl).origin;
  return {
    agent,
    async send(method, path, { token, body, headers = {}, timeoutMs = 10_000 }) {
      const allHeaders: Record<string, string> = { authorization: `Bearer ${token}`, ...headers };
      const payload = body === undefined ? undefined : JSON.stringify(body);
      if (payload !== undefined) allHeaders['content-type'] = 'application/json';
      const start = performance.now();
      let retried = false;
      for (;;) {
        try {
          const res = await request(`${origin}${path}`, {
            method,
            headers: allHeaders,
            body: payload,
            dispatcher: agent,
            signal: AbortSignal.timeout(timeoutMs),
          });
          const text = await res.body.text();
          let parsed: unknown = text;
          try {
            parsed = text ? JSON.parse(text) : undefined;
          } catch {
            // not JSON
          }
          return {
            status: res.statusCode,
            headers: res.headers,
            body: parsed,
            ms: performance.now() - start,
            retried,
          };
        } catch (error) {
          const code = (error as { code?: string }).code ?? '';
          const beforeAnswer = /ECONNRESET|ECONNREFUSED|UND_ERR_SOCKET|EPIPE|UND_ERR_CLOSED/.test(
            code,
          );
          if (
            !retried &&
            retryConnectionErrors &&
            beforeAnswer &&
            isReplayableRequest({ method, headers: allHeaders, body: payload })
          ) {
            retried = true;
            continue;
          }
          throw Object.assign(error as Error, { ms: performance.now() - start });
        }
      }
    },
    close: () => agent.close(),
  };
}

export interface Catalog {
  skus: string[];
}

export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const checkoutRatio = options.checkoutRatio ?? 0.3;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const shoppers = await loginShoppers(
    options.issuerUrl,
    options.users ?? 20,
    options.shopperPassword,
  );
  const client = gatewayClient(options.gatewayUrl, {
    retryConnectionErrors: options.retryConnectionErrors ?? true,
  });
  const first = await client.send('GET', '/api/products', { token: shoppers[0]!.token });
  const products = Array.isArray(first.body) ? first.body : (first.body?.products ?? []);
  const skus: string[] = products.map((p: { sku: string }) => p.sku);
  if (first.status !== 200 || skus.length === 0) {
    await client.close();
    throw new Error(
      `GET /api/products answered ${first.status}: ${JSON.stringify(first.body).slice(0, 200)}`,
    );
  }

  const all = new Samples();
  const byKind = { browse: new Samples(), checkout: new Samples() };
  const failures: LoadResult['failures'] = [];
  let sent = 0;
  let inFlight = 0;
  let retried = 0;
  const pending = new Set<Promise<void>>();
  const pick = <T>(list: T[]) => list[Math.floor(Math.random() * list.length)] as T;

  const one = async () => {
    const shopper = pick(shoppers);
    const kind: Kind = Math.random() < checkoutRatio ? 'checkout' : 'browse';
    inFlight++;
    let code = 'ERR';
    let ok = false;
    let ms = 0;
    let detail = '';
    try {
      const res =
        kind === 'checkout'
          ? await client.send('POST', '/api/checkout', {
              token: shopper.token,
              body: { items: [{ sku: pick(skus), qty: options.qty ?? 1 }] },
              headers: { 'idempotency-key': randomUUID() },
              timeoutMs,
            })
          : Math.random() < 0.5
            ? await client.send('GET', '/api/products', { token: shopper.token, timeoutMs })
            : await client.send('GET', `/api/products/${encodeURIComponent(pick(skus))}`, {
                token: shopper.token,
                timeoutMs,
              });
      ms = res.ms;
      code = String(res.status);
      ok = res.status >= 200 && res.status < 300;
      if (res.retried) retried++;
      if (!ok) detail = JSON.stringify(res.body)?.slice(0, 200) ?? '';
    } catch (error) {
      ms = (error as { ms?: number }).ms ?? 0;
      code = (error as { code?: string }).code ?? (error as Error).name ?? 'ERR';
      if ((error as Error).name === 'TimeoutError') code = 'TIMEOUT';
      detail = (error as Error).message;
    } finally {
      inFlight--;
    }
    all.record(ms, code, ok);
    byKind[kind].record(ms, code, ok);
    if (!ok && failures.length < 20) failures.push({ kind, code, detail });
  };

  const t0 = performance.now();
  const interval = 1000 / options.rps;
  const total = Math.floor((options.durationMs / 1000) * options.rps);
  let lastProgress = t0;
  const progressMs = options.progressMs ?? 250;
  const progress = (now: number) => {
    options.onProgress?.({
      elapsedMs: now - t0,
      durationMs: options.durationMs,
      sent,
      done: all.count,
      failed: all.count - all.ok,
      inFlight,
      p99Ms: all.quantile(0.99),
    });
  };
  while (sent < total && !options.signal?.aborted) {
    const now = performance.now();
    // start every request whose time has come (catches up after a late tick; never bursts ahead)
    while (sent < total && t0 + sent * interval <= now) {
      sent++;
      const p = one();
      pending.add(p);
      void p.finally(() => pending.delete(p));
    }
    if (now - lastProgress >= progressMs) {
      lastProgress = now;
      progress(now);
    }
    const wait = Math.max(1, t0 + sent * interval - performance.now());
    await new Promise((r) => setTimeout(r, Math.min(wait, 20)));
  }
  const sendEnd = performance.now();
  await Promise.all(pending);
  progress(performance.now());
  await client.close();

  const durationS = (sendEnd - t0) / 1000;
  const checkout = byKind.checkout.summary();
  return {
    durationS: Math.round(durationS * 100) / 100,
    targetRps: options.rps,
    sent,
    completed: all.count,
    throughputRps: Math.round((all.count / durationS) * 10) / 10,
    goodputRps: Math.round((all.ok / durationS) * 10) / 10,
    retried,
    all: all.summary(),
    browse: byKind.browse.summary(),
    checkout: { ...checkout, throughputRps: Math.round((checkout.ok / durationS) * 10) / 10 },
    checkoutLatencies: byKind.checkout.latencies(),
    failures,
  };
}
