/**
 * orders — plain node:http, two instances. Carts, the checkout saga (saga.ts) behind an idempotent
 * POST /orders, and a leader-elected job that expires unpaid reservations, writing with its fencing
 * token so a deposed leader's late write is refused by the store.
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { authOf, requireAuth } from '@ballast/auth/node-http';
import { isBreakerError } from '@ballast/breaker';
import { campaign, fenced, type Lease, redisLeaseBackend } from '@ballast/discovery/lease';
import { idempotency } from '@ballast/idempotency/node-http';
import { sleep } from '@ballast/kernel';
import { withSpan } from '@ballast/tracing';
import { quiet, traced } from '../../lib/quiet.ts';
import { createService } from '../../lib/service.ts';
import { publish, SHIPMENTS_STREAM } from '../../lib/streams.ts';
import {
  type CheckoutOutcome,
  completeOrder,
  type Item,
  type Order,
  type PricedItem,
  reservationIdOf,
  runCheckout,
  type SagaPorts,
  StepError,
} from './saga.ts';

const svc = await createService({ dependencies: ['catalog', 'inventory', 'payments'] });
const { redis, log } = svc;
const store = svc.idempotencyStore();

const orderKey = (orderId: string) => `shop:order:${orderId}`;
const OPEN_ORDERS = 'shop:orders:open';
const EXPIRY_FENCE = 'shop:orders:expiry:fence';

// ---- the saga's ports: HTTP through the bootstrap's per-dependency dispatchers, Redis for state ----

/** Turns an HTTP answer or a thrown call error into the saga's failure kinds. */
function failure(what: string, error: unknown): StepError {
  if (error instanceof StepError) return error;
  const e = error as { code?: string; retryAfterMs?: number; message?: string };
  const retryAfterS = Math.max(1, Math.ceil((e?.retryAfterMs ?? 1000) / 1000));
  return new StepError(
    'unavailable',
    `${what}: ${e?.code ?? ''} ${e?.message ?? String(error)}`.trim(),
    { retryAfterS },
  );
}

async function expect2xx<T>(
  what: string,
  promise: Promise<{ status: number; body: T; headers: Record<string, unknown> }>,
) {
  let res: { status: number; body: T; headers: Record<string, unknown> };
  try {
    res = await promise;
  } catch (error) {
    throw failure(what, error);
  }
  if (res.status >= 200 && res.status < 300) return res.body;
  const body = (res.body ?? {}) as { error?: string; message?: string; sku?: string };
  if (res.status === 409 && body.error === 'OUT_OF_STOCK') {
    throw new StepError('out-of-stock', body.message ?? 'out of stock', {
      detail: { sku: body.sku },
    });
  }
  if (res.status === 402) throw new StepError('declined', body.message ?? 'payment declined');
  if (res.status === 409)
    throw new StepError('conflict', `${what}: ${body.message ?? body.error ?? 'conflict'}`);
  if (res.status === 400 || res.status === 404)
    throw new StepError('bad-request', `${what}: ${body.message ?? body.error}`);
  const retryAfter = Number(res.headers['retry-after'] ?? 1);
  throw new StepError('unavailable', `${what}: HTTP ${res.status} ${body.error ?? ''}`.trim(), {
    retryAfterS: Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : 1,
  });
}

let catalogCache:
  | { at: number; prices: Map<string, { price: number; currency: string }> }
  | undefined;
async function catalogPrices(): Promise<Map<string, { price: number; currency: string }>> {
  if (catalogCache && Date.now() - catalogCache.at < 1000) return catalogCache.prices;
  const products = await expect2xx(
    'catalog',
    svc.call<{ sku: string; price: number; currency: string }[]>('catalog', '/products'),
  );
  catalogCache = {
    at: Date.now(),
    prices: new Map(products.map((p) => [p.sku, { price: p.price, currency: p.currency }])),
  };
  return catalogCache.prices;
}

async function saveOrder(order: Order): Promise<void> {
  const tx = redis.multi().set(orderKey(order.orderId), JSON.stringify(order), 'EX', 7 * 24 * 3600);
  if (order.status === 'reserved' || order.status === 'paid')
    tx.zadd(OPEN_ORDERS, order.updatedAt, order.orderId);
  else tx.zrem(OPEN_ORDERS, order.orderId);
  await tx.exec();
}

async function loadOrder(orderId: string): Promise<Order | undefined> {
  const raw = await redis.get(orderKey(orderId));
  return raw ? (JSON.parse(raw) as Order) : undefined;
}

const idem = (key: string) => ({ 'idempotency-key': key });

const ports: SagaPorts = {
  async price(items) {
    const prices = await catalogPrices();
    let currency = 'EUR';
    const priced: PricedItem[] = items.map((item) => {
      const entry = prices.get(item.sku);
      if (!entry) throw new StepError('bad-request', `unknown sku ${item.sku}`);
      currency = entry.currency;
      return { ...item, price: entry.price };
    });
    return { items: priced, currency };
  },
  reserve: (reservationId, items) =>
    withSpan('checkout.reserve', async () => {
      await expect2xx(
        'inventory',
        // idempotent by the reservation id: hedged, so a slow instance costs the hedge delay
        svc.call('inventory', `/reservations/${reservationId}`, {
          method: 'PUT',
          body: { items },
          hedge: true,
        }),
      );
    }),
  release: (reservationId) =>
    withSpan('checkout.release', async () => {
      await expect2xx(
        'inventory',
        svc.call('inventory', `/reservations/${reservationId}/release`, {
          method: 'POST',
          headers: idem(`release-${reservationId}`),
        }),
      );
    }),
  commit: (reservationId) =>
    withSpan('checkout.commit', async () => {
      await expect2xx(
        'inventory',
        svc.call('inventory', `/reservations/${reservationId}/commit`, {
          method: 'POST',
          headers: idem(`commit-${reservationId}`),
          hedge: true,
        }),
      );
    }),
  charge: (chargeKey, order, card) =>
    withSpan('checkout.charge', () =>
      expect2xx(
        'payments',
        svc.call<{ chargeId: string }>('payments', '/charges', {
          method: 'POST',
          headers: idem(chargeKey),
          body: {
            orderId: order.orderId,
            amount: order.total,
            currency: order.currency,
            ...(card ? { card } : {}),
          },
        }),
      ),
    ),
  refund: (chargeId) =>
    withSpan('checkout.refund', () =>
      expect2xx(
        'payments',
        svc.call<{ refundId: string }>('payments', `/charges/${chargeId}/refund`, {
          method: 'POST',
          headers: idem(`refund-${chargeId}`),
        }),
      ),
    ),
  async publishShipment(order) {
    await publish(redis, SHIPMENTS_STREAM, {
      id: `ship-${order.orderId}`,
      type: 'shipment.requested',
      data: { orderId: order.orderId, user: order.user, items: order.items, total: order.total },
    });
  },
  save: saveOrder,
  paymentsUnavailable() {
    // Only while the breaker would refuse a call: once its open time is up the next checkout goes
    // through and becomes the half-open trial (failing fast then would keep it open forever).
    const openForMs = svc.breakerOpenForMs('payments');
    return openForMs === undefined
      ? undefined
      : { retryAfterS: Math.max(1, Math.ceil(openForMs / 1000)) };
  },
  now: () => Date.now(),
};

// ---- HTTP ----

function send(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
) {
  res
    .writeHead(status, { 'content-type': 'application/json', ...headers })
    .end(JSON.stringify(body));
}

/** The order as clients see it: everything but the saga's internal attempt counter. */
function publicOrder(order: Order) {
  const { attempt: _attempt, ...visible } = order;
  return visible;
}

function sendOutcome(res: ServerResponse, outcome: CheckoutOutcome) {
  if (outcome.ok) {
    send(res, outcome.replayed ? 200 : 201, publicOrder(outcome.order));
    return;
  }
  const { error, order } = outcome;
  const base = {
    error: error.kind.toUpperCase().replaceAll('-', '_'),
    message: error.message,
    orderId: order?.orderId,
    ...error.detail,
  };
  switch (error.kind) {
    case 'out-of-stock':
      return send(res, 409, { ...base, error: 'OUT_OF_STOCK' });
    case 'declined':
      return send(res, 402, { ...base, error: 'PAYMENT_DECLINED' });
    case 'bad-request':
      return send(res, 400, { ...base, error: 'BAD_REQUEST' });
    case 'conflict':
      return send(res, 409, { ...base, error: 'RESERVATION_EXPIRED' });
    default:
      return send(
        res,
        503,
        { ...base, error: 'UNAVAILABLE' },
        { 'retry-after': String(error.retryAfterS ?? 1) },
      );
  }
}

function parseItems(value: unknown, max: number): Item[] | undefined {
  if (!Array.isArray(value) || value.length === 0 || value.length > max) return undefined;
  const items: Item[] = [];
  for (const item of value as Item[]) {
    if (
      typeof item?.sku !== 'string' ||
      !Number.isInteger(item.qty) ||
      item.qty <= 0 ||
      item.qty > 100
    )
      return undefined;
    items.push({ sku: item.sku, qty: item.qty });
  }
  return items;
}

const orderIdOf = (user: string, key: string) =>
  `ord_${createHash('sha256').update(`${user}\n${key}`).digest('base64url').slice(0, 22)}`;

const cartKey = (user: string) => `shop:cart:${user}`;
async function cartOf(user: string) {
  const raw = await redis.hgetall(cartKey(user));
  return { user, items: Object.entries(raw).map(([sku, qty]) => ({ sku, qty: Number(qty) })) };
}

async function readBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  if (chunks.length === 0) return {};
  return JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
}

const userOf = (req: IncomingMessage) => {
  const user = req.headers['x-shop-user'];
  return typeof user === 'string' && user.length > 0 && user.length <= 200 ? user : undefined;
};

const scoped = (req: IncomingMessage) => {
  const token = authOf(req);
  const user = userOf(req);
  return token && user ? `${token.subject}:${user}` : undefined;
};

// POST /orders: the idempotency layer sits before the saga; the key also names the order.
const checkout = idempotency(
  async (req, res, body) => {
    const user = userOf(req);
    if (!user) return send(res, 400, { error: 'BAD_REQUEST', message: 'x-shop-user is required' });
    const key = String(req.headers['idempotency-key'] ?? '').replace(/^"|"$/g, '');
    let input: Record<string, unknown>;
    try {
      input = body.length ? (JSON.parse(body.toString('utf8')) as Record<string, unknown>) : {};
    } catch {
      return send(res, 400, { error: 'BAD_REQUEST', message: 'the body is not JSON' });
    }
    const max = svc.settings().orders.maxItems;
    const fromCart = input.items === undefined;
    const items = parseItems(fromCart ? (await cartOf(user)).items : input.items, max);
    if (!items)
      return send(res, 400, {
        error: 'BAD_REQUEST',
        message: `items: 1..${max} of { sku, qty 1..100 } (or a non-empty cart)`,
      });
    const orderId = orderIdOf(user, key);
    const existing = await loadOrder(orderId);
    const outcome = await withSpan('checkout', () =>
      runCheckout(
        {
          orderId,
          user,
          items,
          card: typeof input.card === 'string' ? input.card : undefined,
          payLater: input.payLater === true,
          existing,
        },
        ports,
      ),
    );
    if (outcome.ok && !outcome.replayed && fromCart) await redis.del(cartKey(user));
    sendOutcome(res, outcome);
  },
  { store, scope: scoped, storeServerErrors: false, lockTtlMs: 5000, waitForInFlightMs: 10_000 },
);

// POST /orders/:id/pay: pays a pay-later order (idempotent as well).
const pay = idempotency(
  async (req, res, body) => {
    const orderId = (req.url ?? '').split('/')[2] ?? '';
    const order = await loadOrder(orderId);
    if (!order || order.user !== userOf(req))
      return send(res, 404, { error: 'NOT_FOUND', orderId });
    if (order.status === 'confirmed') return send(res, 200, publicOrder(order));
    if (order.status !== 'reserved')
      return send(res, 409, { error: 'NOT_PAYABLE', orderId, status: order.status });
    const input = body.length ? (JSON.parse(body.toString('utf8')) as { card?: string }) : {};
    sendOutcome(res, await withSpan('checkout.pay', () => completeOrder(order, ports, input.card)));
  },
  { store, scope: scoped, storeServerErrors: false, lockTtlMs: 5000 },
);

const authenticate = requireAuth(svc.verifier, { realm: 'orders' });
const has = (req: IncomingMessage, ...scopes: string[]) =>
  scopes.some((scope) => authOf(req)?.scopes.includes(scope));

async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const token = await authenticate(req, res);
  if (!token) return;
  const url = new URL(req.url ?? '/', 'http://orders');
  const parts = url.pathname.split('/').filter(Boolean);
  const method = req.method ?? 'GET';
  const forbidden = () =>
    send(
      res,
      403,
      { error: 'insufficient_scope' },
      { 'www-authenticate': 'Bearer realm="orders", error="insufficient_scope"' },
    );

  if (parts[0] === 'orders') {
    if (method === 'POST' && parts.length === 1) {
      if (!has(req, 'orders:write')) return forbidden();
      // Fail fast in front of the idempotency layer while payments' breaker is open: nothing would
      // be stored anyway (a 503 releases the key), and this answer costs no Redis round trip.
      // Pay-later checkouts (the gateway flags them) only reserve, so they go on.
      const down = ports.paymentsUnavailable();
      if (down && req.headers['x-shop-pay-later'] !== 'true') {
        return send(
          res,
          503,
          {
            error: 'UNAVAILABLE',
            message: 'payments is unavailable (breaker open): nothing was reserved',
          },
          { 'retry-after': String(down.retryAfterS) },
        );
      }
      return checkout(req, res);
    }
    if (method === 'POST' && parts.length === 3 && parts[2] === 'pay')
      return has(req, 'orders:write') ? pay(req, res) : forbidden();
    if (method === 'GET' && parts.length === 2) {
      if (!has(req, 'orders:read', 'orders:write', 'ops:read')) return forbidden();
      const order = await loadOrder(parts[1] as string);
      const user = userOf(req);
      // A shopper (through the gateway) sees only their own orders; ops sees every order.
      if (!order || (user !== undefined && order.user !== user))
        return send(res, 404, { error: 'NOT_FOUND' });
      return send(res, 200, publicOrder(order));
    }
  }
  if (parts[0] === 'carts' && parts[1]) {
    const user = decodeURIComponent(parts[1]);
    if (method === 'GET' && parts.length === 2) {
      return has(req, 'orders:read', 'orders:write', 'ops:read')
        ? send(res, 200, await cartOf(user))
        : forbidden();
    }
    if (!has(req, 'orders:write')) return forbidden();
    if (method === 'DELETE' && parts.length === 2) {
      await redis.del(cartKey(user));
      return send(res, 200, await cartOf(user));
    }
    if (method === 'PUT' && parts.length === 4 && parts[2] === 'items') {
      const sku = decodeURIComponent(parts[3] as string);
      const { qty } = await readBody(req);
      if (!Number.isInteger(qty) || (qty as number) < 0 || (qty as number) > 100) {
        return send(res, 400, {
          error: 'BAD_REQUEST',
          message: 'qty: an integer 0..100 (0 removes)',
        });
      }
      if (qty === 0) await redis.hdel(cartKey(user), sku);
      else await redis.hset(cartKey(user), sku, String(qty));
      await redis.expire(cartKey(user), 7 * 24 * 3600);
      return send(res, 200, await cartOf(user));
    }
  }
  if (method === 'GET' && parts[0] === 'jobs' && parts[1] === 'expiry') {
    return has(req, 'ops:read') ? send(res, 200, await expiryStatus()) : forbidden();
  }
  send(res, 404, { error: 'NOT_FOUND' });
}

// ---- the leader-elected expiry job ----

const backend = redisLeaseBackend({ client: redis, prefix: 'shop:lease:' });
const job = { runs: 0, expired: 0, refused: 0, lastRunAt: 0, token: 0 };

async function expireOnce(lease: Lease): Promise<void> {
  const settings = svc.settings().orders.expiry;
  const fence = fenced(lease);
  const startedAt = Date.now();
  // The run itself is recorded through the fence: a stale leader's run record is refused.
  const admitted = await fence.set(
    redis,
    'shop:orders:expiry:last-run',
    JSON.stringify({ instance: svc.instanceId, token: fence.token, startedAt }),
    { fenceKey: EXPIRY_FENCE },
  );
  if (!admitted) {
    job.refused++;
    log.warn({ token: fence.token }, 'expiry run refused by the fence: a newer leader has run');
    return;
  }
  job.runs++;
  job.lastRunAt = startedAt;
  job.token = fence.token;
  const due = await redis.zrangebyscore(
    OPEN_ORDERS,
    0,
    startedAt - settings.afterMs,
    'LIMIT',
    0,
    100,
  );
  for (const orderId of due) {
    if (lease.signal.aborted) return;
    const order = await loadOrder(orderId);
    if (!order || (order.status !== 'reserved' && order.status !== 'paid')) {
      await redis.zrem(OPEN_ORDERS, orderId);
      continue;
    }
    try {
      // The scan is quiet; an expiry (refund, release) is worth a trace of its own.
      await traced(() =>
        withSpan(
          'orders.expire',
          async () => {
            if (order.chargeId && !order.refundId)
              order.refundId = (await ports.refund(order.chargeId)).refundId;
            await ports.release(reservationIdOf(order));
          },
          { attributes: { 'shop.order.id': orderId } },
        ),
      );
    } catch (error) {
      log.warn({ err: error, orderId }, 'expiry: compensation failed, will retry next run');
      continue;
    }
    order.status = 'expired';
    order.updatedAt = Date.now();
    order.steps.push({
      step: 'expire',
      outcome: 'ok',
      at: order.updatedAt,
      detail: `leader ${svc.instanceId} token ${fence.token}`,
    });
    // Fenced write: refused when a leader with a newer token has written since.
    const written = await fence.set(redis, orderKey(orderId), JSON.stringify(order), {
      fenceKey: EXPIRY_FENCE,
    });
    if (!written) {
      job.refused++;
      log.warn(
        { orderId, token: fence.token },
        'expiry write refused by the fence: this leader is stale',
      );
      return;
    }
    await redis.zrem(OPEN_ORDERS, orderId);
    job.expired++;
    log.info({ orderId, token: fence.token }, 'reservation expired');
  }
  await redis.rpush(
    'shop:orders:expiry:runs',
    JSON.stringify({
      instance: svc.instanceId,
      token: fence.token,
      startedAt,
      endedAt: Date.now(),
    }),
  );
  await redis.ltrim('shop:orders:expiry:runs', -1000, -1);
}

async function runWhileLeading(lease: Lease): Promise<void> {
  log.info({ token: lease.token }, 'elected: running the expiry job');
  while (!lease.signal.aborted && !svc.closing) {
    try {
      await expireOnce(lease);
    } catch (error) {
      log.warn({ err: error }, 'expiry run failed');
    }
    await sleep(svc.settings().orders.expiry.intervalMs, { signal: lease.signal }).catch(() => {});
  }
  log.info('expiry job stopped: no longer the leader');
}

// Lease renewals and the job's periodic scan stay out of the traces; an expiry gets its own trace.
const election = quiet(() =>
  campaign(backend, 'orders-expiry', {
    ttlMs: svc.settings().orders.expiry.leaseTtlMs,
    id: svc.instanceId,
    onElected: (lease) => void runWhileLeading(lease),
    onLost: (reason) => log.warn({ reason }, 'lost the expiry lead'),
    onError: (error) => log.warn({ err: error }, 'expiry campaign error'),
  }),
);
// The shutdown sequence resigns the lead (its `release` step), after the drain.
svc.addCampaign(election);

async function expiryStatus() {
  const holder = await election.leader().catch(() => undefined);
  const recent = (await redis.lrange('shop:orders:expiry:runs', -20, -1)).map((line) =>
    JSON.parse(line),
  );
  return {
    leader: election.isLeader(),
    instance: svc.instanceId,
    holder,
    leaseTtlMs: svc.settings().orders.expiry.leaseTtlMs,
    fencingToken: job.token,
    ...job,
    recent,
  };
}

svc.healthFields(() => ({
  leader: election.isLeader(),
  fencingToken: election.isLeader() ? job.token : undefined,
}));

await svc.listen(
  svc.httpServer((req, res) => {
    route(req, res).catch((error: unknown) => {
      log.error({ err: error }, 'request failed');
      if (!res.headersSent)
        send(res, isBreakerError(error) ? 503 : 500, { error: 'INTERNAL', message: String(error) });
      else res.destroy();
    });
  }),
);
