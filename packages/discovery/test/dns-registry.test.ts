import { ManualClock } from '@ballast/test-utils';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  type DiscoveryError,
  type DnsRegistryOptions,
  dnsRegistry,
  type Instance,
  isDiscoveryError,
  type Registry,
} from '../src/index.ts';
import { startDnsServer, type TestDnsServer, type Zone } from './support/dns-server.ts';

// A Kubernetes headless service "orders" in namespace "shop", as cluster DNS publishes it: an SRV
// record per pod (port name "http"), each target with its own A record, and the service name
// answering every pod's address.
const SRV_NAME = '_http._tcp.orders.shop.svc.cluster.local';
const HEADLESS = 'orders.shop.svc.cluster.local';
const pod = (n: number) => `10-0-0-${n}.orders.shop.svc.cluster.local`;

function cluster(pods: number[], ttl = 5): Zone {
  const zone: Zone = {
    [SRV_NAME]: {
      SRV: pods.map((n) => ({ priority: 0, weight: 50, port: 8080, target: pod(n), ttl })),
    },
    [HEADLESS]: { A: pods.map((n) => ({ address: `10.0.0.${n}`, ttl })) },
  };
  for (const n of pods) zone[pod(n)] = { A: [{ address: `10.0.0.${n}`, ttl }] };
  return zone;
}

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function dnsServer(zone: Zone): Promise<TestDnsServer> {
  const server = await startDnsServer(zone);
  cleanups.push(() => server.close());
  return server;
}

function registry(server: TestDnsServer, options: DnsRegistryOptions = {}): Registry {
  const r = dnsRegistry({ servers: [server.address], ...options });
  cleanups.push(() => r.close());
  return r;
}

function recorder() {
  const lists: (readonly Instance[])[] = [];
  const errors: DiscoveryError[] = [];
  return {
    lists,
    errors,
    events: {
      onInstances: (list: readonly Instance[]) => lists.push(list),
      onError: (error: DiscoveryError) => errors.push(error),
    },
    last: () => lists.at(-1)?.map((i) => `${i.address}:${i.port}`),
  };
}

describe('dnsRegistry', () => {
  it('lists SRV targets with their addresses, ports and weights (mode "srv")', async () => {
    const server = await dnsServer(cluster([5, 6]));
    const r = registry(server, { hostname: (s) => `_http._tcp.${s}.shop.svc.cluster.local` });
    const list = await r.list('orders');
    expect(list).toEqual([
      {
        id: '10.0.0.5:8080',
        service: 'orders',
        address: '10.0.0.5',
        port: 8080,
        tags: [],
        meta: { target: pod(5) },
        zone: undefined,
        weight: 50,
        healthy: true,
      },
      {
        id: '10.0.0.6:8080',
        service: 'orders',
        address: '10.0.0.6',
        port: 8080,
        tags: [],
        meta: { target: pod(6) },
        zone: undefined,
        weight: 50,
        healthy: true,
      },
    ]);
    expect(server.questions).toContain(`SRV ${SRV_NAME}`);
  });

  it('uses only the lowest SRV priority (RFC 2782), and AAAA records too', async () => {
    const zone: Zone = {
      'api.test': {
        SRV: [
          { priority: 10, weight: 1, port: 9000, target: 'main.test', ttl: 30 },
          { priority: 20, weight: 1, port: 9000, target: 'backup.test', ttl: 30 },
        ],
      },
      'main.test': {
        A: [{ address: '127.0.0.10', ttl: 30 }],
        AAAA: [{ address: 'fd00::10', ttl: 30 }],
      },
      'backup.test': { A: [{ address: '127.0.0.20', ttl: 30 }] },
    };
    const server = await dnsServer(zone);
    const list = await registry(server).list('api.test');
    expect(list.map((i) => `${i.address}:${i.port}`)).toEqual(['127.0.0.10:9000', 'fd00::10:9000']);
  });

  it('lists A/AAAA addresses with a fixed port (mode "a": a headless service name)', async () => {
    const server = await dnsServer(cluster([5, 6, 7]));
    const r = registry(server, { mode: 'a', port: 8080, family: 4 });
    const list = await r.list(HEADLESS);
    expect(list.map((i) => i.id)).toEqual(['10.0.0.5:8080', '10.0.0.6:8080', '10.0.0.7:8080']);
    expect(server.questions).not.toContain(`AAAA ${HEADLESS}`);
  });

  it('answers [] for a name that does not exist (NXDOMAIN) or has no records', async () => {
    const server = await dnsServer({ 'empty.test': {} });
    const r = registry(server);
    expect(await r.list('nothing.test')).toEqual([]);
    expect(await r.list('empty.test')).toEqual([]);
    expect(await registry(server, { mode: 'a' }).list('empty.test')).toEqual([]);
  });

  it('rejects with REGISTRY_UNAVAILABLE when the server fails (SERVFAIL) or does not answer', async () => {
    const server = await dnsServer({ 'broken.test': { servfail: true } });
    const error = await registry(server)
      .list('broken.test')
      .catch((e: unknown) => e);
    expect(isDiscoveryError(error, 'REGISTRY_UNAVAILABLE')).toBe(true);
    const silent = await dnsServer({});
    await silent.close();
    cleanups.pop();
    const timeout = await registry(silent, { timeoutMs: 200 })
      .list('orders.test')
      .catch((e: unknown) => e);
    expect(isDiscoveryError(timeout, 'REGISTRY_UNAVAILABLE')).toBe(true);
  });

  it('a watch looks the name up again when the TTL runs out (on its clock), and pushes changes', async () => {
    const server = await dnsServer(cluster([5, 6], 5));
    const clock = new ManualClock();
    const r = registry(server, { mode: 'a', port: 8080, family: 4, clock });
    const rec = recorder();
    const sub = r.watch(HEADLESS, rec.events);
    await vi.waitFor(() => expect(rec.last()).toEqual(['10.0.0.5:8080', '10.0.0.6:8080']));
    const asked = server.questions.length;
    // A pod is replaced (a rolling update); nothing is asked before the TTL (5 s) runs out.
    server.setZone(cluster([5, 7], 5));
    await clock.advanceAsync(4999);
    expect(server.questions.length).toBe(asked);
    await clock.advanceAsync(1);
    await vi.waitFor(() => expect(rec.last()).toEqual(['10.0.0.5:8080', '10.0.0.7:8080']));
    // Unchanged answers are not pushed again.
    await clock.advanceAsync(5000);
    await vi.waitFor(() => expect(server.questions.length).toBeGreaterThan(asked + 1));
    expect(rec.lists).toHaveLength(2);
    sub.dispose();
    expect(rec.errors).toEqual([]);
  });

  it('clamps the refresh between minRefreshMs and maxRefreshMs (a TTL of 0 does not spin)', async () => {
    const server = await dnsServer(cluster([5], 0));
    const clock = new ManualClock();
    const r = registry(server, { mode: 'a', family: 4, clock, minRefreshMs: 2000 });
    const rec = recorder();
    const sub = r.watch(HEADLESS, rec.events);
    await vi.waitFor(() => expect(rec.lists).toHaveLength(1));
    const asked = server.questions.length;
    await clock.advanceAsync(1999);
    expect(server.questions.length).toBe(asked);
    await clock.advanceAsync(1);
    await vi.waitFor(() => expect(server.questions.length).toBe(asked + 1));
    sub.dispose();
  });

  it('a watch reports failures, backs off, keeps going, and skips SRV targets without an address', async () => {
    const zone = cluster([5, 6]);
    const server = await dnsServer({ ...zone, [HEADLESS]: { servfail: true } });
    const clock = new ManualClock();
    const r = registry(server, { mode: 'a', family: 4, port: 8080, clock, backoffBaseMs: 100 });
    const rec = recorder();
    const sub = r.watch(HEADLESS, rec.events);
    await vi.waitFor(() => expect(rec.errors).toHaveLength(1));
    expect(isDiscoveryError(rec.errors[0], 'REGISTRY_UNAVAILABLE')).toBe(true);
    server.setZone(zone);
    await clock.advanceAsync(100);
    await vi.waitFor(() => expect(rec.last()).toEqual(['10.0.0.5:8080', '10.0.0.6:8080']));
    // Failing again, then back with the same records: pushed again, so the consumer knows.
    server.setZone({ ...zone, [HEADLESS]: { servfail: true } });
    await clock.advanceAsync(5000);
    await vi.waitFor(() => expect(rec.errors).toHaveLength(2));
    server.setZone(zone);
    await clock.advanceAsync(100);
    await vi.waitFor(() => expect(rec.lists).toHaveLength(2));
    expect(rec.last()).toEqual(['10.0.0.5:8080', '10.0.0.6:8080']);
    sub.dispose();

    // An SRV target whose name does not resolve: reported, the others listed.
    const broken = cluster([5, 6]);
    delete broken[pod(6)];
    server.setZone(broken);
    const srv = recorder();
    const sub2 = registry(server, { clock, hostname: () => SRV_NAME }).watch('orders', srv.events);
    await vi.waitFor(() => expect(srv.last()).toEqual(['10.0.0.5:8080']));
    expect(srv.errors.map((e) => e.code)).toEqual(['INVALID_INSTANCE']);
    sub2.dispose();
  });

  it('rejects malformed SRV records one by one (a port of 0) and lists the rest', async () => {
    const server = await dnsServer({
      'api.test': {
        SRV: [
          { priority: 0, weight: 1, port: 0, target: 'zero.test', ttl: 30 },
          { priority: 0, weight: 1, port: 9000, target: 'good.test', ttl: 30 },
        ],
      },
      'zero.test': { A: [{ address: '127.0.0.30', ttl: 30 }] },
      'good.test': { A: [{ address: '127.0.0.31', ttl: 30 }] },
    });
    const rec = recorder();
    const sub = registry(server, { family: 4 }).watch('api.test', rec.events);
    await vi.waitFor(() => expect(rec.last()).toEqual(['127.0.0.31:9000']));
    expect(rec.errors.map((e) => [e.code, (e as unknown as { field: string }).field])).toEqual([
      ['INVALID_INSTANCE', 'port'],
    ]);
    sub.dispose();
  });

  it('register() is not supported: REGISTRATION_UNSUPPORTED', async () => {
    const server = await dnsServer({});
    const error = await registry(server)
      .register({ service: 'orders', address: '10.0.0.5', port: 8080 })
      .catch((e: unknown) => e);
    expect(isDiscoveryError(error, 'REGISTRATION_UNSUPPORTED')).toBe(true);
  });

  it('validates its options (INVALID_OPTIONS names the option)', () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ mode: 'mx' }, 'mode'],
      [{ servers: ['not a server'] }, 'servers'],
      [{ servers: [] }, 'servers'],
      [{ port: 70_000 }, 'port'],
      [{ family: 5 }, 'family'],
      [{ minRefreshMs: 5000, maxRefreshMs: 1000 }, 'minRefreshMs'],
    ];
    for (const [options, option] of cases) {
      let error: unknown;
      try {
        dnsRegistry(options as DnsRegistryOptions);
      } catch (e) {
        error = e;
      }
      expect(isDiscoveryError(error, 'INVALID_OPTIONS'), option).toBe(true);
      expect((error as { option: string }).option).toBe(option);
    }
  });
});
