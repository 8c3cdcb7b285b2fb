/**
 * shipping — Express 5. Consumes `shop:stream:shipments` (consumer group `shipping`): each message
 * creates one shipment (idempotent by the message id, so a redelivery creates nothing) and publishes
 * `shipment.created` to `shop:stream:notifications`, continuing the checkout's trace.
 */
import { randomUUID } from 'node:crypto';
import { requireAuth } from '@ballast/auth/express';
import express, { type Request, type Response } from 'express';
import { createService } from '../../lib/service.ts';
import { consume, NOTIFICATIONS_STREAM, publish, SHIPMENTS_STREAM } from '../../lib/streams.ts';

const svc = await createService({});
const { redis, log } = svc;
const store = svc.idempotencyStore();

interface ShipmentRequest {
  orderId: string;
  user: string;
  items: { sku: string; qty: number }[];
  total: number;
}

const consumer = consume<ShipmentRequest>({
  redis,
  stream: SHIPMENTS_STREAM,
  group: 'shipping',
  consumer: svc.instanceId,
  store,
  log,
  signal: svc.signal,
  handler: async (message) => {
    const { orderId, user, items } = message.data;
    const shipment = {
      shipmentId: `sh_${randomUUID()}`,
      orderId,
      user,
      items,
      status: 'label-created',
      at: Date.now(),
    };
    // NX: even without the idempotency layer a second shipment for one order is never written.
    const created = await redis.set(
      `shop:shipment:${orderId}`,
      JSON.stringify(shipment),
      'EX',
      7 * 24 * 3600,
      'NX',
    );
    const stored =
      created === 'OK'
        ? shipment
        : JSON.parse((await redis.get(`shop:shipment:${orderId}`)) ?? '{}');
    await publish(redis, NOTIFICATIONS_STREAM, {
      id: `notify-shipment.created-${orderId}`,
      type: 'shipment.created',
      data: { orderId, user, shipmentId: stored.shipmentId },
    });
    log.info({ orderId, shipmentId: stored.shipmentId }, 'shipment created');
    return { shipmentId: stored.shipmentId };
  },
});
svc.onShutdown(() => consumer.stopped);
svc.healthFields(() => ({ consumed: consumer.processed(), duplicates: consumer.duplicates() }));

const app = express();
app.disable('x-powered-by');
app.use(requireAuth(svc.verifier, { scopes: ['ops:read'], realm: 'shipping' }));
app.get('/shipments/:orderId', async (req: Request, res: Response) => {
  const raw = await redis.get(`shop:shipment:${req.params.orderId}`);
  if (!raw) {
    res.status(404).json({ error: 'NOT_FOUND' });
    return;
  }
  res.json(JSON.parse(raw));
});
app.use((_req: Request, res: Response) => {
  res.status(404).json({ error: 'NOT_FOUND' });
});

await svc.listen(svc.httpServer(app));
