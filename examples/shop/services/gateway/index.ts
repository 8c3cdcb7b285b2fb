/**
 * gateway — Fastify 5, the public API on SHOP_PORT (8080). Verifies the shopper's token and scopes,
 * makes checkout idempotent per shopper (`@ballast/idempotency/fastify`, fail closed: 503 when Redis
 * is away), and forwards by service name through the bootstrap's discovery dispatcher with the
 * gateway's own service token (the shopper is named in `x-shop-user`).
 */
import { authOf, requireAuth, requireScopes } from '@ballast/auth/fastify';
import { redisRegistry } from '@ballast/discovery';
import { proxy } from '@ballast/discovery/fastify';
import { createRouter } from '@ballast/discovery/router';
import { discoveryDispatcher } from '@ballast/discovery/undici';
import { idempotency } from '@ballast/idempotency/fastify';
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify';
import { type CallResult, createService, unavailable } from '../../lib/service.ts';
import { dependencySettings } from '../../lib/settings.ts';

const OPS_TARGETS = ['catalog', 'inventory', 'orders', 'payments', 'shipping', 'notifications'];
const svc = await createService({
  dependencies: OPS_TARGETS,
  isFailure: { orders: (status) => status >= 500 && status !== 503 },
});
const store = svc.idempotencyStore();

const app = Fastify({
  serverFactory: (handler) => svc.httpServer(handler),
  logger: false,
  bodyLimit: 64 * 1024,
});

const FORWARDED_HEADERS = ['retry-after', 'idempotent-replayed', 'www-authenticate'];

/** Sends a dependency's answer on, or a 503 + Retry-After when the call could not be made. */
async function forward(
  reply: FastifyReply,
  dependency: string,
  path: string,
  init: { method?: string; body?: unknown; headers?: Record<string, string> } = {},
) {
  let res: CallResult;
  try {
    res = await svc.call(dependency, path, init);
  } catch (error) {
    const failure = unavailable(error);
    svc.log.warn({ dependency, path, code: failure.code }, 'dependency unavailable');
    reply.code(503).header('retry-after', String(failure.retryAfterS));
    return { error: 'UNAVAILABLE', message: `${dependency} is unavailable (${failure.code})` };
  }
  reply.code(res.status);
  for (const name of FORWARDED_HEADERS) {
    const value = res.headers[name];
    if (value !== undefined)
      reply.header(name === 'idempotent-replayed' ? 'x-upstream-replayed' : name, value);
  }
  return res.body;
}

const userOf = (request: FastifyRequest) => authOf(request)?.subject ?? '';
const enc = encodeURIComponent;

await app.register(async (api) => {
  api.addHook('onRequest', requireAuth(svc.verifier, { realm: 'shop' }));
  // After authentication: a shopper's key never replays another shopper's checkout.
  await api.register(idempotency, {
    store,
    scope: (request: FastifyRequest) => authOf(request)?.subject,
    storeServerErrors: false,
    // Extended while the checkout runs; a lock left behind by a Redis outage frees within 5 s.
    lockTtlMs: 5000,
  });

  api.get('/api/cart', { preHandler: requireScopes(['shop:cart']) }, (request, reply) =>
    forward(reply, 'orders', `/carts/${enc(userOf(request))}`),
  );
  api.put<{ Params: { sku: string }; Body: { qty?: number } }>(
    '/api/cart/items/:sku',
    { preHandler: requireScopes(['shop:cart']) },
    (request, reply) =>
      forward(reply, 'orders', `/carts/${enc(userOf(request))}/items/${enc(request.params.sku)}`, {
        method: 'PUT',
        body: { qty: request.body?.qty },
      }),
  );
  api.delete('/api/cart', { preHandler: requireScopes(['shop:cart']) }, (request, reply) =>
    forward(reply, 'orders', `/carts/${enc(userOf(request))}`, { method: 'DELETE' }),
  );
  api.post<{ Body: Record<string, unknown> | undefined }>(
    '/api/checkout',
    { preHandler: requireScopes(['shop:checkout']) },
    (request, reply) =>
      forward(reply, 'orders', '/orders', {
        method: 'POST',
        body: request.body ?? {},
        headers: {
          'x-shop-user': userOf(request),
          'idempotency-key': String(request.headers['idempotency-key']),
          // Lets orders fail fast during a payments outage without reading the body first.
          'x-shop-pay-later': request.body?.payLater === true ? 'true' : 'false',
        },
      }),
  );
  api.post<{ Params: { id: string }; Body: Record<string, unknown> | undefined }>(
    '/api/orders/:id/pay',
    { preHandler: requireScopes(['shop:checkout']) },
    (request, reply) =>
      forward(reply, 'orders', `/orders/${enc(request.params.id)}/pay`, {
        method: 'POST',
        body: request.body ?? {},
        headers: {
          'x-shop-user': userOf(request),
          'idempotency-key': String(request.headers['idempotency-key']),
        },
      }),
  );
  api.get<{ Params: { id: string } }>(
    '/api/orders/:id',
    { preHandler: requireScopes(['shop:orders']) },
    (request, reply) =>
      forward(reply, 'orders', `/orders/${enc(request.params.id)}`, {
        headers: { 'x-shop-user': userOf(request) },
      }),
  );
});

// Routes by service name through @ballast/discovery/router: browsing goes to catalog, and an admin
// reads any service's GET routes under /ops/<service>/. The shopper's token stays at the gateway
// (removed from the forwarded request); the bearer interceptor puts the gateway's own token on it.
const policies = (dependency: string) => {
  const settings = dependencySettings(svc.settings(), dependency);
  return {
    timeoutMs: settings.timeoutMs,
    retry: { maxAttempts: settings.retries + 1, initialDelayMs: 20, maxDelayMs: 250 },
    breaker: {
      failureRateThreshold: settings.breaker.failureRateThreshold,
      minimumCalls: Math.min(20, settings.breaker.minimumRequests),
      windowSize: 20,
      openMs: settings.breaker.openMs,
    },
  };
};
const withoutUserToken = { request: { remove: ['authorization'] } };
const dispatcher = svc.serviceDispatcher();
const browse = createRouter(
  [
    {
      id: 'browse',
      match: { pathPrefix: '/api/products', methods: ['GET', 'HEAD'] },
      to: 'http://catalog/products',
      rewrite: { stripPrefix: true },
      headers: withoutUserToken,
      policies: policies('catalog'),
    },
  ],
  { dispatcher },
);
const ops = createRouter(
  OPS_TARGETS.map((service) => ({
    id: `ops-${service}`,
    match: { pathPrefix: `/ops/${service}`, methods: ['GET', 'HEAD'] },
    to: `http://${service}`,
    rewrite: { stripPrefix: true },
    headers: withoutUserToken,
    policies: policies(service),
  })),
  { dispatcher },
);
// The operations dashboard (dashboard/server.ts, run by the launcher) registers itself as
// `dashboard` in the Redis registry; the gateway serves it at /dashboard by name. Its own
// dispatcher, so the gateway's service token never goes to it; no user auth: like every port of
// the shop it listens on 127.0.0.1 only, for the operator at this machine. The page's live
// updates are one Server-Sent Events response, streamed through (a body chunk at least every
// second, well within the body timeout).
const dashboardRegistry = redisRegistry({ client: svc.redis, ttlMs: 6000 });
const dashboardDispatcher = discoveryDispatcher({ registry: dashboardRegistry, retries: 1 });
const dashboard = createRouter(
  [
    {
      id: 'dashboard',
      match: { pathPrefix: '/dashboard' },
      to: 'http://dashboard',
      policies: { timeoutMs: 130_000, bodyTimeoutMs: 60_000 },
    },
  ],
  { dispatcher: dashboardDispatcher },
);
await app.register(proxy(dashboard));

svc.onShutdown(async () => {
  await Promise.all([browse.close(), ops.close(), dashboard.close()]);
  await dashboardDispatcher.close();
  await dashboardRegistry.close();
});

for (const [router, scopes] of [
  [browse, ['shop:browse']],
  [ops, ['admin']],
] as const) {
  await app.register(async (scope) => {
    scope.addHook('onRequest', requireAuth(svc.verifier, { realm: 'shop' }));
    scope.addHook('onRequest', requireScopes([...scopes]));
    await scope.register(proxy(router));
  });
}

app.setNotFoundHandler((_request, reply) => {
  reply.code(404).send({ error: 'NOT_FOUND' });
});

await app.ready();
await svc.listen(app.server, { reusePort: true });
