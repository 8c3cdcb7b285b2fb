/**
 * inventory — Koa 3, three instances. Stock lives in Redis, so any instance answers any request;
 * every change is one Lua script (atomic), and every write is idempotent by the order id:
 * reserving twice reserves once, releasing or committing twice changes nothing the second time.
 */
import { authOf, requireAuth } from '@ballast/auth/koa';
import Koa from 'koa';
import { createService } from '../../lib/service.ts';

const svc = await createService({});
const { redis } = svc;

// KEYS: reservation hash. ARGV: initial stock, now, n, then sku/qty pairs.
const RESERVE = `
local existing = redis.call('HGET', KEYS[1], 'status')
if existing then return {existing, ''} end
local initial = tonumber(ARGV[1])
local n = tonumber(ARGV[3])
for i = 0, n - 1 do
  local sku = ARGV[4 + i * 2]
  local qty = tonumber(ARGV[5 + i * 2])
  redis.call('SET', 'shop:stock:' .. sku, initial, 'NX')
  if tonumber(redis.call('GET', 'shop:stock:' .. sku)) < qty then return {'out-of-stock', sku} end
end
for i = 0, n - 1 do
  local sku = ARGV[4 + i * 2]
  local qty = tonumber(ARGV[5 + i * 2])
  redis.call('DECRBY', 'shop:stock:' .. sku, qty)
  redis.call('INCRBY', 'shop:reserved:' .. sku, qty)
end
redis.call('HSET', KEYS[1], 'status', 'reserved', 'at', ARGV[2], 'items', cjson.encode({unpack(ARGV, 4)}))
return {'created', ''}`;

// KEYS: reservation hash. ARGV: target status (released | committed), now.
const SETTLE = `
local status = redis.call('HGET', KEYS[1], 'status')
if not status then
  if ARGV[1] == 'released' then
    redis.call('HSET', KEYS[1], 'status', 'released', 'at', ARGV[2], 'items', '[]')
    return 'released'
  end
  return 'missing'
end
if status ~= 'reserved' then return status end
local items = cjson.decode(redis.call('HGET', KEYS[1], 'items'))
for i = 1, #items, 2 do
  local qty = tonumber(items[i + 1])
  redis.call('DECRBY', 'shop:reserved:' .. items[i], qty)
  if ARGV[1] == 'released' then redis.call('INCRBY', 'shop:stock:' .. items[i], qty) end
end
redis.call('HSET', KEYS[1], 'status', ARGV[1], 'at', ARGV[2])
return ARGV[1]`;

interface Item {
  sku: string;
  qty: number;
}

const reservationKey = (orderId: string) => `shop:reservation:${orderId}`;

async function readJson(ctx: Koa.Context): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  for await (const chunk of ctx.req) chunks.push(chunk as Buffer);
  if (chunks.length === 0) return {};
  return JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
}

function validItems(value: unknown): Item[] | undefined {
  if (!Array.isArray(value) || value.length === 0) return undefined;
  const items: Item[] = [];
  for (const item of value as Item[]) {
    if (typeof item?.sku !== 'string' || !Number.isInteger(item.qty) || item.qty <= 0)
      return undefined;
    items.push({ sku: item.sku, qty: item.qty });
  }
  return items;
}

async function stockOf(sku: string) {
  const [available, reserved] = await redis.mget(`shop:stock:${sku}`, `shop:reserved:${sku}`);
  return {
    sku,
    available: available === null ? svc.settings().inventory.initialStock : Number(available),
    reserved: Number(reserved ?? 0),
  };
}

const has = (ctx: Koa.Context, ...scopes: string[]) => {
  const granted = authOf(ctx)?.scopes ?? [];
  return scopes.some((scope) => granted.includes(scope));
};

const app = new Koa();
app.use(requireAuth(svc.verifier, { realm: 'inventory' }));
app.use(async (ctx) => {
  const parts = ctx.path.split('/').filter(Boolean);
  const write = ctx.method !== 'GET';
  if (
    write
      ? !has(ctx, 'inventory:write')
      : !has(ctx, 'inventory:read', 'inventory:write', 'ops:read')
  ) {
    ctx.status = 403;
    ctx.set('www-authenticate', `Bearer realm="inventory", error="insufficient_scope"`);
    ctx.body = { error: 'insufficient_scope' };
    return;
  }
  // GET /stock, GET /stock/:sku
  if (ctx.method === 'GET' && parts[0] === 'stock') {
    if (parts[1]) {
      ctx.body = await stockOf(parts[1]);
      return;
    }
    const skus = new Set<string>();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', 'shop:stock:*', 'COUNT', 200);
      cursor = next;
      for (const key of keys) skus.add(key.slice('shop:stock:'.length));
    } while (cursor !== '0');
    ctx.body = await Promise.all([...skus].sort().map(stockOf));
    return;
  }
  if (parts[0] === 'reservations' && parts[1]) {
    const orderId = parts[1];
    // PUT /reservations/:orderId { items }
    if (ctx.method === 'PUT' && parts.length === 2) {
      const items = validItems((await readJson(ctx)).items);
      if (!items) {
        ctx.status = 400;
        ctx.body = { error: 'BAD_REQUEST', message: 'items: [{ sku, qty > 0 }] required' };
        return;
      }
      const args = items.flatMap((item) => [item.sku, String(item.qty)]);
      const [result, sku] = (await redis.eval(
        RESERVE,
        1,
        reservationKey(orderId),
        String(svc.settings().inventory.initialStock),
        String(Date.now()),
        String(items.length),
        ...args,
      )) as [string, string];
      if (result === 'out-of-stock') {
        ctx.status = 409;
        ctx.body = { error: 'OUT_OF_STOCK', sku, message: `not enough ${sku}` };
        return;
      }
      // A repeat (a retry of the same reservation) answers with the reservation as it is.
      const status = result === 'created' ? 'reserved' : result;
      ctx.status = result === 'created' ? 201 : 200;
      ctx.body = { orderId, status };
      return;
    }
    // POST /reservations/:orderId/release | /commit
    if (ctx.method === 'POST' && (parts[2] === 'release' || parts[2] === 'commit')) {
      const target = parts[2] === 'release' ? 'released' : 'committed';
      const status = (await redis.eval(
        SETTLE,
        1,
        reservationKey(orderId),
        target,
        String(Date.now()),
      )) as string;
      if (status === target) {
        ctx.body = { orderId, status };
        return;
      }
      ctx.status = status === 'missing' ? 404 : 409;
      ctx.body = { error: status === 'missing' ? 'NOT_FOUND' : 'CONFLICT', orderId, status };
      return;
    }
    if (ctx.method === 'GET' && parts.length === 2) {
      const reservation = await redis.hgetall(reservationKey(orderId));
      if (!reservation.status) {
        ctx.status = 404;
        ctx.body = { error: 'NOT_FOUND', orderId };
        return;
      }
      ctx.body = {
        orderId,
        status: reservation.status,
        at: Number(reservation.at),
        items: JSON.parse(reservation.items ?? '[]'),
      };
      return;
    }
  }
  ctx.status = 404;
  ctx.body = { error: 'NOT_FOUND' };
});

await svc.listen(svc.httpServer(app.callback()));
