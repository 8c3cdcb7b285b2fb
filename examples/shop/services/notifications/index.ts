/**
 * notifications — Express 5. Consumes `shop:stream:notifications` (consumer group `notifications`)
 * and "sends" each notification once (idempotent by the message id): it is logged and kept per
 * order, so the scenario runner can check that nothing was sent twice.
 */
import { requireAuth } from '@ballast/auth/express';
import express, { type Request, type Response } from 'express';
import { createService } from '../../lib/service.ts';
import { consume, NOTIFICATIONS_STREAM } from '../../lib/streams.ts';

const svc = await createService({});
const { redis, log } = svc;
const store = svc.idempotencyStore();

const consumer = consume<{ orderId: string; user: string; shipmentId?: string }>({
  redis,
  stream: NOTIFICATIONS_STREAM,
  group: 'notifications',
  consumer: svc.instanceId,
  store,
  log,
  signal: svc.signal,
  handler: async (message) => {
    const notification = { id: message.id, type: message.type, ...message.data, at: Date.now() };
    await redis
      .multi()
      .rpush(`shop:notifications:${message.data.orderId}`, JSON.stringify(notification))
      .expire(`shop:notifications:${message.data.orderId}`, 7 * 24 * 3600)
      .incr('shop:notifications:sent')
      .exec();
    log.info(
      { orderId: message.data.orderId, type: message.type },
      `notified ${message.data.user}`,
    );
    return { sent: true };
  },
});
svc.onShutdown(() => consumer.stopped);
svc.healthFields(() => ({ consumed: consumer.processed(), duplicates: consumer.duplicates() }));

const app = express();
app.disable('x-powered-by');
app.use(requireAuth(svc.verifier, { scopes: ['ops:read'], realm: 'notifications' }));
app.get('/notifications', async (req: Request, res: Response) => {
  const orderId = typeof req.query.orderId === 'string' ? req.query.orderId : undefined;
  const sent = Number((await redis.get('shop:notifications:sent')) ?? 0);
  if (!orderId) {
    res.json({ sent });
    return;
  }
  const raw = await redis.lrange(`shop:notifications:${orderId}`, 0, -1);
  res.json({ sent, notifications: raw.map((line) => JSON.parse(line)) });
});
app.use((_req: Request, res: Response) => {
  res.status(404).json({ error: 'NOT_FOUND' });
});

await svc.listen(svc.httpServer(app));
