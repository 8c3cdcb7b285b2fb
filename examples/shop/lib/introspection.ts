/**
 * An internal, read-only view of what a service's outbound balancer sees, for the dashboard:
 *
 *   GET /internal/balancer  →  { service, instance, at, services: [ResolverSnapshot…] }
 *
 * `services` is `dispatcher.snapshot().services` from `@ballast/discovery/undici`: per dependency
 * the resolver's state and, per instance of it, zone, requests in flight from this process, the
 * peak-EWMA latency estimate, ejection (until when, how many times) and outcome counters. The
 * dashboard adds the snapshots of every caller to show each instance's load and the calls between
 * services (a rate is the difference of two snapshots).
 *
 * `instanceZone()` is the zone each instance registers with (see below).
 *
 * Like Envoy's admin port, it is for operators only: it answers loopback clients (every shop
 * process listens on 127.0.0.1) and never a request that came through a proxy (`x-forwarded-for`),
 * so the gateway does not hand it to the outside.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { DiscoveryDispatcher } from '@ballast/discovery/undici';

export const INTROSPECTION_PATH = '/internal/balancer';

export interface IntrospectionSource {
  service: string;
  instance: string;
  dispatcher: DiscoveryDispatcher;
}

/**
 * The zone an instance registers with: `SHOP_ZONE` when set, else a simulated one — every shop
 * process runs on this machine, so the two "zones" only label instances: odd instance numbers
 * (`inventory-1`, `inventory-3`) in `zone-a`, even ones in `zone-b` (a replacement, with a new
 * number, may land in the other zone, as a rescheduled pod would). No client sets a zone
 * preference: balancing ignores them; the dashboard shows them.
 */
export function instanceZone(instanceId: string): string {
  const n = Number(/-(\d+)$/.exec(instanceId)?.[1] ?? 1);
  return process.env.SHOP_ZONE || (n % 2 === 1 ? 'zone-a' : 'zone-b');
}

const LOOPBACK = new Set(['127.0.0.1', '::1', '::ffff:127.0.0.1']);

/** The body of GET /internal/balancer. */
export function balancerView(source: IntrospectionSource) {
  return {
    service: source.service,
    instance: source.instance,
    at: Date.now(),
    services: source.dispatcher.snapshot().services,
  };
}

/** Answers GET /internal/balancer; `false` for any other request (the service handles it). */
export function introspection(
  req: IncomingMessage,
  res: ServerResponse,
  source: IntrospectionSource,
): boolean {
  if (req.url !== INTROSPECTION_PATH) return false;
  const local = LOOPBACK.has(req.socket.remoteAddress ?? '') && !req.headers['x-forwarded-for'];
  if (req.method !== 'GET' || !local) {
    res
      .writeHead(404, { 'content-type': 'application/json' })
      .end(JSON.stringify({ error: 'NOT_FOUND' }));
    return true;
  }
  res
    .writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' })
    .end(JSON.stringify(balancerView(source)));
  return true;
}
