/**
 * The auth service: the shop's OAuth/OIDC issuer (see issuer.ts) on `node:http`, its key ring in
 * Redis, registered in the registry as `auth`, with `/livez`, `/readyz`, `/health` and the graceful
 * shutdown of `register()` on SIGTERM (Consul instead of the Redis registry when CONSUL_HTTP_ADDR is set). Env (set by the launcher): PORT, REDIS_URL, SHOP_ISSUER_URL,
 * INSTANCE_ID, SHOP_AUTH_CLIENTS (JSON `[{ clientId, clientSecret, scopes }]`), SHOP_AUDIENCE,
 * SHOP_ADMIN_PASSWORD, SHOP_ADMIN_TOTP_SECRET, SHOP_SHOPPER_PASSWORD, SHOP_USER_SCOPES.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { consulRegistry, type Registry, redisRegistry, register } from '@ballast/discovery';
import { Redis } from 'ioredis';
import { quiet } from '../../lib/quiet.ts';
import { type ClientConfig, createIssuer } from './issuer.ts';
import { KeyRing } from './keys.ts';

const env = process.env;
const port = Number(env.PORT ?? 8081);
const redisUrl = env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const issuerUrl = (env.SHOP_ISSUER_URL ?? `http://127.0.0.1:${port}`).replace(/\/$/, '');
const instanceId = env.INSTANCE_ID ?? `auth-${process.pid}`;
const prefix = env.SHOP_REDIS_PREFIX ?? 'shop:';

const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 2 });
await redis.connect();
const ring = new KeyRing({
  load: () => redis.get(`${prefix}auth:keyring`),
  save: async (json) => void (await redis.set(`${prefix}auth:keyring`, json)),
});
await ring.init();

const issuer = createIssuer({
  issuer: issuerUrl,
  audience: env.SHOP_AUDIENCE ?? 'shop',
  ring,
  clients: JSON.parse(env.SHOP_AUTH_CLIENTS ?? '[]') as ClientConfig[],
  userScopes: (env.SHOP_USER_SCOPES ?? 'shop').split(/\s+/).filter(Boolean),
  shopperPassword: env.SHOP_SHOPPER_PASSWORD ?? 'shopper',
  admin: {
    username: 'admin',
    password: env.SHOP_ADMIN_PASSWORD ?? 'admin-password',
    totpSecret: env.SHOP_ADMIN_TOTP_SECRET ?? 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP',
    scopes: ['admin', ...(env.SHOP_USER_SCOPES ?? 'shop').split(/\s+/).filter(Boolean)],
  },
  userTokenTtlS: Number(env.SHOP_USER_TOKEN_TTL_S ?? 900),
  serviceTokenTtlS: Number(env.SHOP_SERVICE_TOKEN_TTL_S ?? 600),
});

let draining = false;
let inFlight = 0;
const startedAt = Date.now();
const server = createServer((req, res) => {
  inFlight++;
  res.once('close', () => inFlight--);
  const path = (req.url ?? '/').split('?')[0];
  if (path === '/livez') return void res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
  if (path === '/readyz') {
    const ready = !draining && redis.status === 'ready';
    return void res
      .writeHead(ready ? 200 : 503, { 'content-type': 'text/plain' })
      .end(ready ? 'ready' : 'not ready');
  }
  if (path === '/health') {
    const body = JSON.stringify({
      service: 'auth',
      instance: instanceId,
      status: draining ? 'draining' : 'ready',
      uptimeS: Math.round((Date.now() - startedAt) / 1000),
      checks: { redis: redis.status, keys: ring.list() },
      tokens: issuer.counters,
    });
    return void res.writeHead(200, { 'content-type': 'application/json' }).end(body);
  }
  issuer
    .handle(req, res)
    .then((handled) => {
      if (!handled)
        res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not_found"}');
    })
    .catch((error: unknown) => {
      console.error('auth: request failed', error);
      if (!res.headersSent)
        res.writeHead(500, { 'content-type': 'application/json' }).end('{"error":"server_error"}');
      else res.destroy();
    });
});
server.keepAliveTimeout = 5_000;
await new Promise<void>((resolve) =>
  server.listen({ port, host: '127.0.0.1', reusePort: true }, resolve),
);
const address = server.address() as AddressInfo;

// the Redis registry, or Consul when CONSUL_HTTP_ADDR is set (as every shop service)
const consul = env.CONSUL_HTTP_ADDR;
const consulUrl = consul
  ? new URL(consul.includes('://') ? consul : `http://${consul}`)
  : undefined;
const registry: Registry = consulUrl
  ? consulRegistry({
      host: consulUrl.hostname,
      port: Number(consulUrl.port || 8500),
      secure: consulUrl.protocol === 'https:',
      ttlMs: 6000,
    })
  : redisRegistry({ client: redis, ttlMs: 6000 });
// heartbeats every ttl/3 would otherwise each be a one-span trace in the receiver
const registration = await quiet(() =>
  register(
    registry,
    {
      service: 'auth',
      id: instanceId,
      address: '127.0.0.1',
      port: address.port,
      meta: { issuer: issuerUrl },
    },
    { server, drainMs: 5_000, signals: [] },
  ),
);
console.log(`auth: issuer ${issuerUrl} listening on ${address.port} (signer ${ring.signer().kid})`);

let stopping = false;
const shutdown = (signal: string) => {
  if (stopping) return;
  stopping = true;
  void (async () => {
    console.log(`auth: ${signal}, draining`);
    draining = true;
    await registration.close();
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeIdleConnections();
    });
    await registry.close?.();
    redis.disconnect();
    console.log('auth: stopped');
  })().then(() => process.exit(0));
};
process.once('SIGTERM', () => shutdown('SIGTERM'));
process.once('SIGINT', () => shutdown('SIGINT'));
