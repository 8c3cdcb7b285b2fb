/**
 * payments — Hono on @hono/node-server. A fake card processor with a ledger in Redis. Charges and
 * refunds are idempotent (`@ballast/idempotency/fetch`, keys scoped by the verified caller): a
 * retried charge answers the stored result, never charges twice. `faults.paymentsOutage` makes it
 * answer 503 to every charge and refund (the callers' breakers open).
 */
import { randomUUID } from 'node:crypto';
import { type AuthVariables, authOf, requireAuth, requireScopes } from '@ballast/auth/fetch';
import { idempotency } from '@ballast/idempotency/fetch';
import { getRequestListener } from '@hono/node-server';
import { Hono } from 'hono';
import { createService } from '../../lib/service.ts';

const svc = await createService({});
const { redis } = svc;
const store = svc.idempotencyStore();

/** The card number that is always declined (as Stripe's test cards). */
const DECLINED_CARD = '4000000000000002';

interface Charge {
  chargeId: string;
  orderId: string;
  amount: number;
  currency: string;
  status: 'captured' | 'refunded';
  at: number;
  refundId?: string;
}

const app = new Hono<{ Variables: AuthVariables }>();
app.use('*', requireAuth(svc.verifier, { realm: 'payments' }));

// The outage flag sits before the idempotency layer: nothing is claimed or stored while "down".
// (Hono's '/charges/*' also matches '/charges' itself: one registration covers both.)
app.use('/charges/*', async (c, next) => {
  if (svc.settings().faults.paymentsOutage) {
    return c.json({ error: 'PAYMENTS_UNAVAILABLE', message: 'faults.paymentsOutage is on' }, 503, {
      'retry-after': '1',
    });
  }
  await next();
});
const once = idempotency({
  store,
  scope: (request) => authOf(request)?.subject,
  waitForInFlightMs: 3000,
  storeServerErrors: false,
});
app.use('/charges/*', once);

app.post('/charges', requireScopes(['payments:charge']), async (c) => {
  const body = (await c.req.json().catch(() => ({}))) as {
    orderId?: string;
    amount?: number;
    currency?: string;
    card?: string;
  };
  if (
    typeof body.orderId !== 'string' ||
    !Number.isInteger(body.amount) ||
    (body.amount as number) <= 0
  ) {
    return c.json(
      {
        error: 'BAD_REQUEST',
        message: 'orderId and a positive integer amount (cents) are required',
      },
      400,
    );
  }
  if (body.card === DECLINED_CARD) {
    return c.json({ error: 'PAYMENT_DECLINED', message: 'the card was declined' }, 402);
  }
  const charge: Charge = {
    chargeId: `ch_${randomUUID()}`,
    orderId: body.orderId,
    amount: body.amount as number,
    currency: body.currency ?? 'EUR',
    status: 'captured',
    at: Date.now(),
  };
  const entry = JSON.stringify({
    id: charge.chargeId,
    type: 'charge',
    orderId: charge.orderId,
    chargeId: charge.chargeId,
    amount: charge.amount,
    at: charge.at,
  });
  await redis
    .multi()
    .set(`shop:charge:${charge.chargeId}`, JSON.stringify(charge))
    .rpush('shop:ledger', entry)
    .rpush(`shop:ledger:order:${charge.orderId}`, entry)
    .incrby('shop:ledger:balance', charge.amount)
    .exec();
  return c.json(charge, 201);
});

app.post('/charges/:chargeId/refund', requireScopes(['payments:charge']), async (c) => {
  const chargeId = c.req.param('chargeId');
  const raw = await redis.get(`shop:charge:${chargeId}`);
  if (!raw) return c.json({ error: 'NOT_FOUND', message: `no charge ${chargeId}` }, 404);
  const charge = JSON.parse(raw) as Charge;
  if (charge.status === 'refunded') {
    return c.json({
      refundId: charge.refundId,
      chargeId,
      orderId: charge.orderId,
      status: 'refunded',
    });
  }
  const refundId = `re_${randomUUID()}`;
  const at = Date.now();
  const entry = JSON.stringify({
    id: refundId,
    type: 'refund',
    orderId: charge.orderId,
    chargeId,
    amount: -charge.amount,
    at,
  });
  // Only the first refund of a charge moves money, even if two different keys race.
  const refunded = await redis.set(`shop:refund:${chargeId}`, refundId, 'NX');
  if (refunded !== 'OK') {
    return c.json({
      refundId: await redis.get(`shop:refund:${chargeId}`),
      chargeId,
      orderId: charge.orderId,
      status: 'refunded',
    });
  }
  await redis
    .multi()
    .set(`shop:charge:${chargeId}`, JSON.stringify({ ...charge, status: 'refunded', refundId }))
    .rpush('shop:ledger', entry)
    .rpush(`shop:ledger:order:${charge.orderId}`, entry)
    .incrby('shop:ledger:balance', -charge.amount)
    .exec();
  return c.json({ refundId, chargeId, orderId: charge.orderId, status: 'refunded' });
});

app.get(
  '/ledger',
  requireScopes(['ops:read', 'payments:charge'], { scopeMode: 'any' }),
  async (c) => {
    const orderId = c.req.query('orderId');
    const raw = orderId
      ? await redis.lrange(`shop:ledger:order:${orderId}`, 0, -1)
      : await redis.lrange('shop:ledger', -1000, -1);
    const balance = Number((await redis.get('shop:ledger:balance')) ?? 0);
    const charges = await redis.llen('shop:ledger');
    return c.json({ entries: raw.map((line) => JSON.parse(line)), balance, totalEntries: charges });
  },
);

app.notFound((c) => c.json({ error: 'NOT_FOUND' }, 404));

await svc.listen(svc.httpServer(getRequestListener(app.fetch)));
