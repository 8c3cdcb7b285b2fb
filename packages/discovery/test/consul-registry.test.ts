import { readFileSync } from 'node:fs';
import { freePort, ManualClock } from '@ballast/test-utils';
import Consul from 'consul';
import nock from 'nock';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  type ConsulClient,
  type ConsulRegistryOptions,
  consulRegistry,
  type DiscoveryError,
  type Instance,
  isDiscoveryError,
  type Registry,
  register,
} from '../src/index.ts';

// Consul's HTTP API is exercised with nock: every answer below has the shape and headers that
// Consul documents (api-docs/health.mdx, api-docs/agent/service.mdx, api-docs/features/blocking.mdx).

const AGENT = 'http://127.0.0.1:8500';
const fixture = (name: string): unknown =>
  JSON.parse(readFileSync(new URL(`./fixtures/consul/${name}.json`, import.meta.url), 'utf8'));

/** The headers Consul sends with every read: index, leader, and ms since contact with the leader. */
function consulHeaders(index: number | string): Record<string, string> {
  return {
    'Content-Type': 'application/json',
    Vary: 'Accept-Encoding',
    'X-Consul-Default-Acl-Policy': 'allow',
    'X-Consul-Effective-Consistency': 'leader',
    'X-Consul-Index': String(index),
    'X-Consul-KnownLeader': 'true',
    'X-Consul-LastContact': '0',
  };
}

/** Consul's answer when the cluster has no leader: a 500 with a plain-text reason. */
const NO_LEADER = [
  'rpc error making call: No cluster leader',
  { 'Content-Type': 'text/plain' },
] as const;

const registries: Registry[] = [];
function registry(options: ConsulRegistryOptions = {}): Registry {
  const r = consulRegistry(options);
  registries.push(r);
  return r;
}

/** Records what a watch reports, and lets a test wait for the n-th list or error. */
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
    ids: (n: number) => lists[n]?.map((i) => i.id),
  };
}

beforeAll(() => {
  nock.disableNetConnect();
});
afterEach(async () => {
  await Promise.all(registries.splice(0).map((r) => r.close()));
  nock.abortPendingRequests();
  nock.cleanAll();
});
afterAll(() => {
  nock.enableNetConnect();
});

describe('consulRegistry: registration', () => {
  it('registers with a TTL check, heartbeats with check.pass, drains with maintenance mode, deregisters', async () => {
    const bodies: unknown[] = [];
    const scope = nock(AGENT, { reqheaders: { 'x-consul-token': 'secret-token' } })
      .put('/v1/agent/service/register', (body) => {
        bodies.push(body);
        return true;
      })
      .reply(200)
      .put('/v1/agent/check/pass/service%3Aorders-1')
      .reply(200)
      .put('/v1/agent/service/maintenance/orders-1')
      .query({ enable: 'true', reason: 'draining: shutting down' })
      .reply(200)
      .put('/v1/agent/service/deregister/orders-1')
      .reply(200);

    const r = registry({ token: 'secret-token', ttlMs: 9000, deregisterCriticalAfterMs: 90_000 });
    const handle = await r.register({
      id: 'orders-1',
      service: 'orders',
      address: '10.0.0.5',
      port: 8080,
      tags: ['v2'],
      meta: { version: '2.4.1' },
      zone: 'eu-west-1a',
      weight: 3,
    });
    expect(bodies[0]).toEqual({
      ID: 'orders-1',
      Name: 'orders',
      Address: '10.0.0.5',
      Port: 8080,
      Tags: ['v2'],
      Meta: { version: '2.4.1', zone: 'eu-west-1a', weight: '3' },
      Check: {
        CheckID: 'service:orders-1',
        Name: "Service 'orders' check",
        TTL: '9000ms',
        Status: 'passing',
        DeregisterCriticalServiceAfter: '90000ms',
      },
    });
    expect((handle as { heartbeatIntervalMs?: number }).heartbeatIntervalMs).toBe(3000);
    await handle.heartbeat();
    await handle.setDraining(true);
    await handle.setDraining(true); // already draining: no second request
    await handle.deregister();
    await handle.deregister(); // idempotent
    expect(scope.isDone()).toBe(true);
  });

  it('registers an HTTP check that the agent runs; heartbeats are then no-ops', async () => {
    const bodies: Record<string, unknown>[] = [];
    const scope = nock(AGENT)
      .put('/v1/agent/service/register', (body) => {
        bodies.push(body);
        return true;
      })
      .reply(200);
    const r = registry({
      httpCheck: { url: 'http://10.0.0.5:8080/health', intervalMs: 5000, timeoutMs: 1000 },
    });
    const handle = await r.register({ service: 'orders', address: '10.0.0.5', port: 8080 });
    expect(bodies[0]?.Check).toEqual({
      CheckID: 'service:10.0.0.5:8080',
      Name: "Service 'orders' check",
      HTTP: 'http://10.0.0.5:8080/health',
      Interval: '5000ms',
      Timeout: '1000ms',
      DeregisterCriticalServiceAfter: '60000ms',
    });
    expect((handle as { heartbeatIntervalMs?: number }).heartbeatIntervalMs).toBeUndefined();
    await handle.heartbeat();
    expect(scope.isDone()).toBe(true);
    nock(AGENT).put('/v1/agent/service/deregister/10.0.0.5%3A8080').reply(200);
  });

  it('registers again when the agent forgot the check (404 on check.pass)', async () => {
    const scope = nock(AGENT)
      .put('/v1/agent/service/register')
      .reply(200)
      .put('/v1/agent/check/pass/service%3Aorders-1')
      .reply(
        404,
        'Unknown check ID "service:orders-1". Ensure that the check ID is passed, not the check name.',
        {
          'Content-Type': 'text/plain',
        },
      )
      .put('/v1/agent/service/register')
      .reply(200)
      .put('/v1/agent/service/deregister/orders-1')
      .reply(200);
    const r = registry();
    const handle = await r.register({
      id: 'orders-1',
      service: 'orders',
      address: '10.0.0.5',
      port: 8080,
    });
    await handle.heartbeat();
    await r.close(); // close() deregisters what this registry registered
    expect(scope.isDone()).toBe(true);
  });

  it('rejects with REGISTRY_UNAVAILABLE when the agent answers 500 or is unreachable', async () => {
    nock(AGENT)
      .put('/v1/agent/service/register')
      .reply(500, ...NO_LEADER);
    const r = registry();
    const error = await r
      .register({ service: 'orders', address: '10.0.0.5', port: 8080 })
      .catch((e: unknown) => e);
    expect(isDiscoveryError(error, 'REGISTRY_UNAVAILABLE')).toBe(true);
    expect((error as Error).message).toContain('No cluster leader');

    // Nothing listens on this port: a real connection refused.
    nock.enableNetConnect('127.0.0.1');
    try {
      const closed = registry({ port: await freePort() });
      const refused = await closed
        .register({ service: 'orders', address: '10.0.0.5', port: 8080 })
        .catch((e: unknown) => e);
      expect(isDiscoveryError(refused, 'REGISTRY_UNAVAILABLE')).toBe(true);
      expect((refused as Error).message).toContain('ECONNREFUSED');
    } finally {
      nock.disableNetConnect();
    }
  });

  it('an ACL denial (403) says which permissions the token needs', async () => {
    nock(AGENT)
      .put('/v1/agent/service/register')
      .reply(
        403,
        'Permission denied: token with AccessorID lacks permission "service:write" on "orders"',
        {
          'Content-Type': 'text/plain',
        },
      );
    const error = await registry({ token: 'read-only' })
      .register({ service: 'orders', address: '10.0.0.5', port: 8080 })
      .catch((e: unknown) => e);
    expect(isDiscoveryError(error, 'REGISTRY_UNAVAILABLE')).toBe(true);
    expect((error as Error).message).toContain('HTTP 403');
    expect((error as Error).message).toContain('service:write');
    expect((error as Error).message).toContain('option "token"');
  });

  it('a hung agent is REGISTRY_UNAVAILABLE after timeoutMs, not a hang', async () => {
    nock(AGENT).put('/v1/agent/service/register').delay(5000).reply(200);
    const error = await registry({ timeoutMs: 200 })
      .register({ service: 'orders', address: '10.0.0.5', port: 8080 })
      .catch((e: unknown) => e);
    expect(isDiscoveryError(error, 'REGISTRY_UNAVAILABLE')).toBe(true);
    expect((error as Error).message).toContain('timed out');
  });

  it('with register(): heartbeats every ttlMs / 3 on the clock; close() drains in maintenance mode, then deregisters', async () => {
    const clock = new ManualClock();
    const calls: string[] = [];
    const scope = nock(AGENT)
      .put('/v1/agent/service/register')
      .reply(() => {
        calls.push('register');
        return [200];
      })
      .put('/v1/agent/check/pass/service%3Aorders-1')
      .times(2)
      .reply(() => {
        calls.push('pass');
        return [200];
      })
      .put('/v1/agent/service/maintenance/orders-1')
      .query(true)
      .reply(() => {
        calls.push('maintenance');
        return [200];
      })
      .put('/v1/agent/service/deregister/orders-1')
      .reply(() => {
        calls.push('deregister');
        return [200];
      });
    const reg = await register(
      registry({ ttlMs: 6000 }),
      { id: 'orders-1', service: 'orders', address: '10.0.0.5', port: 8080 },
      { clock, signals: [], drainMs: 0 },
    );
    await clock.advanceAsync(1999);
    expect(calls).toEqual(['register']);
    await clock.advanceAsync(1);
    await vi.waitFor(() => expect(calls).toEqual(['register', 'pass']));
    await clock.advanceAsync(2000);
    await vi.waitFor(() => expect(calls).toEqual(['register', 'pass', 'pass']));
    await reg.close();
    expect(calls).toEqual(['register', 'pass', 'pass', 'maintenance', 'deregister']);
    expect(scope.isDone()).toBe(true);
  });

  it('refuses a malformed instance before talking to Consul (INVALID_INSTANCE)', async () => {
    const r = registry();
    const error = await r
      .register({ service: 'orders', address: '10.0.0.5', port: 0 })
      .catch((e: unknown) => e);
    expect(isDiscoveryError(error, 'INVALID_INSTANCE')).toBe(true);
  });

  it('works with a consul client you configured, and never destroys it', async () => {
    nock('http://consul.internal:8501', { reqheaders: { 'x-consul-token': 'from-defaults' } })
      .get('/v1/health/service/orders')
      .query(true)
      .twice()
      .reply(200, fixture('health-service-orders'), consulHeaders(3));
    const client = new Consul({
      host: 'consul.internal',
      port: 8501,
      defaults: { token: 'from-defaults' },
    });
    let destroyed = false;
    const original = client.destroy.bind(client);
    client.destroy = () => {
      destroyed = true;
      original();
    };
    const r = consulRegistry({ client });
    expect((await r.list('orders')).map((i) => i.id)).toEqual(['orders-1', 'orders-2']);
    await r.close();
    expect(destroyed).toBe(false);
    // Still usable by its owner.
    expect(await client.health.service({ service: 'orders' })).toHaveLength(2);
  });

  it('validates its options at construction (INVALID_OPTIONS names the option)', () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ ttlMs: 10 }, 'ttlMs'],
      [{ deregisterCriticalAfterMs: 5000 }, 'deregisterCriticalAfterMs'],
      [{ waitMs: 20 * 60_000 }, 'waitMs'],
      [{ httpCheck: { url: 'ftp://x' } }, 'httpCheck.url'],
      [{ port: 0 }, 'port'],
      [{ client: {} }, 'client'],
      [{ tllMs: 1000 }, 'tllMs'],
    ];
    for (const [options, option] of cases) {
      const error = (() => {
        try {
          consulRegistry(options as ConsulRegistryOptions);
        } catch (e) {
          return e;
        }
      })();
      expect(isDiscoveryError(error, 'INVALID_OPTIONS'), option).toBe(true);
      expect((error as { option: string }).option).toBe(option);
    }
  });
});

describe('consulRegistry: list()', () => {
  it('reads /v1/health/service/:name?passing in the datacenter, with the token', async () => {
    nock(AGENT, { reqheaders: { 'x-consul-token': 't' } })
      .get('/v1/health/service/orders')
      .query({ passing: 'true', dc: 'dc2' })
      .reply(200, fixture('health-service-orders'), consulHeaders(42));
    const r = registry({ token: 't', datacenter: 'dc2' });
    const list = await r.list('orders');
    expect(list).toEqual([
      {
        id: 'orders-1',
        service: 'orders',
        address: '10.1.10.12',
        port: 8080,
        tags: ['v2', 'primary'],
        meta: { version: '2.4.1' },
        zone: 'eu-west-1a', // from the node's meta
        weight: 10, // Weights.Passing
        healthy: true,
      },
      {
        id: 'orders-2',
        service: 'orders',
        address: '10.1.10.13', // Service.Address empty: the node's address
        port: 8080,
        tags: [],
        meta: { zone: 'eu-west-1b', weight: '2' },
        zone: 'eu-west-1b',
        weight: 2, // meta.weight, as register() writes it
        healthy: true,
      },
    ]);
  });

  it('reads in the consistency mode asked for (?stale or ?consistent)', async () => {
    nock(AGENT)
      .get('/v1/health/service/orders')
      .query({ passing: 'true', stale: '1' })
      .reply(200, [], consulHeaders(5))
      .get('/v1/health/service/orders')
      .query({ passing: 'true', consistent: '1' })
      .reply(200, [], consulHeaders(5));
    expect(await registry({ consistency: 'stale' }).list('orders')).toEqual([]);
    expect(await registry({ consistency: 'consistent' }).list('orders')).toEqual([]);
  });

  it('with maxLastContactMs refuses answers too far behind the leader (X-Consul-LastContact, KnownLeader)', async () => {
    nock(AGENT)
      .get('/v1/health/service/orders')
      .query(true)
      .reply(200, fixture('health-service-orders'), {
        ...consulHeaders(5),
        'X-Consul-LastContact': '4500',
      })
      .get('/v1/health/service/orders')
      .query(true)
      .reply(200, fixture('health-service-orders'), {
        ...consulHeaders(5),
        'X-Consul-KnownLeader': 'false',
      })
      .get('/v1/health/service/orders')
      .query(true)
      .reply(200, fixture('health-service-orders'), {
        ...consulHeaders(5),
        'X-Consul-LastContact': '120',
      });
    const r = registry({ consistency: 'stale', maxLastContactMs: 1000 });
    const behind = await r.list('orders').catch((e: unknown) => e);
    expect(isDiscoveryError(behind, 'REGISTRY_UNAVAILABLE')).toBe(true);
    expect((behind as Error).message).toContain('4500 ms');
    const leaderless = await r.list('orders').catch((e: unknown) => e);
    expect((leaderless as Error).message).toContain('KnownLeader: false');
    expect(await r.list('orders')).toHaveLength(2);
  });

  it('with passingOnly: false lists every instance, unhealthy when a check is not passing', async () => {
    nock(AGENT)
      .get('/v1/health/service/orders')
      .reply(200, fixture('health-service-orders-all'), consulHeaders(43));
    const r = registry({ passingOnly: false });
    const list = await r.list('orders');
    expect(list.map((i) => [i.id, i.healthy])).toEqual([
      ['orders-1', true],
      ['orders-2', false], // in maintenance mode (draining)
    ]);
  });

  it('answers [] for a service Consul does not know', async () => {
    nock(AGENT).get('/v1/health/service/nobody').query(true).reply(200, [], consulHeaders(7));
    expect(await registry().list('nobody')).toEqual([]);
  });

  it('rejects with REGISTRY_UNAVAILABLE on a 500, bad JSON or a body that is not an array', async () => {
    const r = registry();
    nock(AGENT)
      .get('/v1/health/service/orders')
      .query(true)
      .reply(500, ...NO_LEADER);
    nock(AGENT)
      .get('/v1/health/service/orders')
      .query(true)
      .reply(200, '[{"Service": ', consulHeaders(9));
    nock(AGENT)
      .get('/v1/health/service/orders')
      .query(true)
      .reply(200, { Service: {} }, consulHeaders(9));
    for (let i = 0; i < 3; i++) {
      const error = await r.list('orders').catch((e: unknown) => e);
      expect(isDiscoveryError(error, 'REGISTRY_UNAVAILABLE'), String(i)).toBe(true);
    }
  });

  it('skips malformed entries (no Service, port 0, wrong types) and keeps the good one', async () => {
    nock(AGENT)
      .get('/v1/health/service/orders')
      .query(true)
      .reply(200, fixture('health-service-orders-garbage'), consulHeaders(11));
    const list = await registry().list('orders');
    expect(list.map((i) => i.id)).toEqual(['orders-1']);
  });

  it('an aborted signal rejects with its reason', async () => {
    nock(AGENT)
      .get('/v1/health/service/orders')
      .query(true)
      .delay(5000)
      .reply(200, [], consulHeaders(1));
    const controller = new AbortController();
    const pending = registry().list('orders', { signal: controller.signal });
    controller.abort(new Error('caller gave up'));
    await expect(pending).rejects.toThrow('caller gave up');
  });
});

type Answer = [status: number, body: unknown, headers: Record<string, string>];

/**
 * Serves successive `/v1/health/service/orders` queries with `answers`, in order, then holds the
 * next query open like a blocking query with nothing new. Returns every query's parameters, in
 * the order the requests arrived (the held one included).
 */
function consulHealth(answers: readonly Answer[]): URLSearchParams[] {
  const queries: URLSearchParams[] = [];
  const scope = nock(AGENT);
  if (answers.length > 0) {
    let n = 0;
    scope
      .get('/v1/health/service/orders')
      .query(true)
      .times(answers.length)
      .reply(() => answers[n++]!);
  }
  scope
    .get('/v1/health/service/orders')
    .query(true)
    .delay(120_000)
    .reply(200, [], consulHeaders(1));
  scope.on('request', (req: { url: string }) => {
    queries.push(new URL(req.url).searchParams);
  });
  return queries;
}

const ok = (index: number | string, name = 'health-service-orders'): Answer => [
  200,
  fixture(name),
  consulHeaders(index),
];
const CHANGED = 'health-service-orders-changed';
const noLeader: Answer = [500, NO_LEADER[0], NO_LEADER[1]];

describe('consulRegistry: watch() with blocking queries', () => {
  /** A watch with no rate limit (the rate-limit test sets its own). */
  function quickRegistry(clock: ManualClock, extra: ConsulRegistryOptions = {}) {
    return registry({ clock, watchIntervalMs: 0, waitMs: 30_000, ...extra });
  }

  it('follows X-Consul-Index: blocks on the last index, pushes the list only when it changed', async () => {
    const clock = new ManualClock();
    // The second answer is an idempotent write: a new index, the same result.
    const queries = consulHealth([ok(100), ok(105), ok(110, CHANGED), ok(110, CHANGED)]);
    const rec = recorder();
    const sub = quickRegistry(clock).watch('orders', rec.events);
    await vi.waitFor(() => expect(queries).toHaveLength(5));
    expect(queries.map((q) => q.get('index'))).toEqual([null, '100', '105', '110', '110']);
    expect(queries.every((q) => q.get('passing') === 'true')).toBe(true);
    expect(rec.lists.map((l) => l.map((i) => i.id))).toEqual([
      ['orders-1', 'orders-2'],
      ['orders-1', 'orders-3'],
    ]);
    expect(rec.errors).toEqual([]);
    sub.dispose();
  });

  it('sends wait on blocking queries (the client timeout allows for Consul adding up to wait/16)', async () => {
    const clock = new ManualClock();
    const queries = consulHealth([ok(100)]);
    const sub = quickRegistry(clock).watch('orders', recorder().events);
    await vi.waitFor(() => expect(queries).toHaveLength(2));
    expect(queries[0]?.get('wait')).toBeNull(); // the first read does not block
    expect(queries[1]?.get('index')).toBe('100');
    expect(queries[1]?.get('wait')).toBe('30000ms');
    sub.dispose();
  });

  it('resets the index to 0 when it goes backwards, and never blocks on an index below 1', async () => {
    const clock = new ManualClock();
    const queries = consulHealth([
      ok(50),
      ok(20, CHANGED), // went backwards (e.g. a snapshot restore): start over at 0
      ok(0, CHANGED), // index 0 (a Consul bug): block on 1 instead of spinning
      ok(30),
    ]);
    const rec = recorder();
    const sub = quickRegistry(clock).watch('orders', rec.events);
    await vi.waitFor(() => expect(queries).toHaveLength(5));
    expect(queries.map((q) => q.get('index'))).toEqual([null, '50', null, '1', '30']);
    expect(rec.lists.map((l) => l.map((i) => i.id))).toEqual([
      ['orders-1', 'orders-2'],
      ['orders-1', 'orders-3'],
      ['orders-1', 'orders-2'],
    ]);
    sub.dispose();
  });

  it('rate-limits a churning result: two loops back to back, then one per watchIntervalMs', async () => {
    const clock = new ManualClock();
    // Every answer has a new index and a new list: the result churns.
    const queries = consulHealth([ok(101), ok(102, CHANGED), ok(103), ok(104, CHANGED)]);
    const rec = recorder();
    const sub = quickRegistry(clock, { watchBurst: 2, watchIntervalMs: 1000 }).watch(
      'orders',
      rec.events,
    );
    await vi.waitFor(() => expect(rec.lists).toHaveLength(2));
    // The bucket is empty: nothing more until the clock moves.
    await clock.advanceAsync(999);
    expect(queries).toHaveLength(2);
    await clock.advanceAsync(1);
    await vi.waitFor(() => expect(rec.lists).toHaveLength(3));
    await clock.advanceAsync(999);
    expect(queries).toHaveLength(3);
    await clock.advanceAsync(1);
    await vi.waitFor(() => expect(rec.lists).toHaveLength(4));
    sub.dispose();
  });

  it('on a 500 reports REGISTRY_UNAVAILABLE, backs off (doubling, on the clock) and recovers', async () => {
    const clock = new ManualClock();
    const queries = consulHealth([ok(100), noLeader, noLeader, ok(120, CHANGED)]);
    const rec = recorder();
    const sub = quickRegistry(clock, { backoffBaseMs: 200, backoffMaxMs: 10_000 }).watch(
      'orders',
      rec.events,
    );
    await vi.waitFor(() => expect(rec.errors).toHaveLength(1));
    expect(isDiscoveryError(rec.errors[0], 'REGISTRY_UNAVAILABLE')).toBe(true);
    expect(rec.errors[0]?.message).toContain('HTTP 500');
    expect(rec.errors[0]?.message).toContain('No cluster leader');
    await clock.advanceAsync(199);
    expect(queries).toHaveLength(2);
    await clock.advanceAsync(1);
    await vi.waitFor(() => expect(rec.errors).toHaveLength(2));
    await clock.advanceAsync(399); // second failure: 400 ms
    expect(queries).toHaveLength(3);
    await clock.advanceAsync(1);
    await vi.waitFor(() => expect(rec.lists).toHaveLength(2));
    expect(rec.ids(1)).toEqual(['orders-1', 'orders-3']);
    // After an error the loop reads afresh (no index), then blocks again.
    expect(queries[3]?.get('index')).toBeNull();
    sub.dispose();
  });

  it('after an error, the next good answer is pushed even when the list did not change (the registry is back)', async () => {
    const clock = new ManualClock();
    consulHealth([ok(100), noLeader, ok(100)]);
    const rec = recorder();
    const sub = quickRegistry(clock, { backoffBaseMs: 100 }).watch('orders', rec.events);
    await vi.waitFor(() => expect(rec.errors).toHaveLength(1));
    await clock.advanceAsync(100);
    await vi.waitFor(() => expect(rec.lists).toHaveLength(2));
    expect(rec.ids(1)).toEqual(rec.ids(0));
    sub.dispose();
  });

  it('garbage never crashes the watch: bad entries are reported one by one, bad bodies as outages', async () => {
    const clock = new ManualClock();
    consulHealth([
      ok(10, 'health-service-orders-garbage'),
      [200, '[{"Service": {"ID": ', consulHeaders(11)],
      [200, { Node: 'not an array' }, consulHeaders(12)],
      [200, fixture('health-service-orders'), { ...consulHeaders(13), 'X-Consul-Index': 'banana' }],
      ok(14),
    ]);
    const rec = recorder();
    const sub = quickRegistry(clock, { backoffBaseMs: 10 }).watch('orders', rec.events);
    await vi.waitFor(() => expect(rec.lists).toHaveLength(1));
    // The garbage fixture: seven malformed entries around one good one.
    expect(rec.ids(0)).toEqual(['orders-1']);
    const invalid = rec.errors.slice(0, 7);
    expect(invalid.every((e) => isDiscoveryError(e, 'INVALID_INSTANCE'))).toBe(true);
    expect(invalid.map((e) => (e as unknown as { field: string }).field).sort()).toEqual([
      'Service',
      'Service',
      'Service',
      'address',
      'port',
      'port',
      'tags',
    ]);
    for (let i = 1; i <= 3; i++) {
      await vi.waitFor(() => expect(rec.errors.length).toBeGreaterThanOrEqual(7 + i));
      expect(isDiscoveryError(rec.errors[6 + i], 'REGISTRY_UNAVAILABLE')).toBe(true);
      await clock.advanceAsync(10_000);
    }
    await vi.waitFor(() => expect(rec.lists).toHaveLength(2));
    expect(rec.ids(1)).toEqual(['orders-1', 'orders-2']);
    sub.dispose();
  });

  it('gives a blocking query a client timeout above wait + wait/16, and a plain read timeoutMs', async () => {
    const seen: Record<string, unknown>[] = [];
    const client: ConsulClient = {
      agent: {
        service: {
          register: async () => {},
          deregister: async () => {},
          maintenance: async () => {},
        },
        check: { pass: async () => {} },
      },
      health: {
        service: (options) => {
          seen.push(options as Record<string, unknown>);
          const res = { headers: { 'x-consul-index': String(seen.length * 10) } };
          // The first read answers; the blocking one hangs until cancelled.
          if (seen.length === 1) return Promise.resolve([res, []]);
          return new Promise(() => {});
        },
      },
      destroy: () => {},
    };
    const r = registry({ client, waitMs: 160_000, timeoutMs: 3000, watchIntervalMs: 0 });
    const sub = r.watch('orders', recorder().events);
    await vi.waitFor(() => expect(seen).toHaveLength(2));
    expect(seen[0]).toMatchObject({ service: 'orders', passing: true, timeout: 3000 });
    expect(seen[0]?.index).toBeUndefined();
    expect(seen[1]).toMatchObject({ index: '10', wait: '160000ms' });
    expect(seen[1]?.timeout).toBeGreaterThan(160_000 + 160_000 / 16);
    sub.dispose();
  });

  it('with maxLastContactMs a stale answer is an error for the watch; the next fresh one is used', async () => {
    const clock = new ManualClock();
    consulHealth([
      ok(10),
      [200, fixture(CHANGED), { ...consulHeaders(11), 'X-Consul-LastContact': '9000' }],
      ok(12, CHANGED),
    ]);
    const rec = recorder();
    const sub = quickRegistry(clock, { maxLastContactMs: 2000, backoffBaseMs: 50 }).watch(
      'orders',
      rec.events,
    );
    await vi.waitFor(() => expect(rec.errors).toHaveLength(1));
    expect(rec.errors[0]?.message).toContain('X-Consul-LastContact');
    expect(rec.lists).toHaveLength(1);
    await clock.advanceAsync(50);
    await vi.waitFor(() => expect(rec.lists).toHaveLength(2));
    expect(rec.ids(1)).toEqual(['orders-1', 'orders-3']);
    sub.dispose();
  });

  it('dispose() aborts the blocking query in flight and stops the loop', async () => {
    const clock = new ManualClock();
    const queries = consulHealth([ok(5)]);
    const rec = recorder();
    const sub = quickRegistry(clock).watch('orders', rec.events);
    await vi.waitFor(() => expect(queries).toHaveLength(2));
    sub.dispose();
    await clock.advanceAsync(120_000);
    expect(queries).toHaveLength(2);
    expect(rec.lists).toHaveLength(1);
    expect(rec.errors).toEqual([]);
    expect(clock.pending).toBe(0);
  });
});
