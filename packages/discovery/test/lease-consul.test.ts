import { readFileSync } from 'node:fs';
import { ManualClock } from '@ballast/test-utils';
import Consul from 'consul';
import nock from 'nock';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  acquireLease,
  type ConsulLeaseBackendOptions,
  campaign,
  consulLeaseBackend,
  isDiscoveryError,
  type LeaseLostError,
  type LeaseLostReason,
} from '../src/lease/index.ts';

// Consul's session and KV endpoints, answered by nock with the shapes and headers Consul documents
// (website/content/api-docs/session.mdx and kv.mdx; the 404 of a renewal of an unknown session is
// agent/session_endpoint.go's "Session id '<id>' not found").

const AGENT = 'http://127.0.0.1:8500';
const KEY_PATH = '/v1/kv/ballast%2Flease%2Freports';
const S1 = 'adf4238a-882b-9ddc-4a9d-5b6758e4159e';
const S2 = '5e1a7c3b-0d4f-4e52-9a61-2c8b7f9d0e13';
const OTHER = '9b0f2d6e-7c41-4a3e-8f15-6d2e0c7b4a98';

const fixture = (name: string): unknown =>
  JSON.parse(readFileSync(new URL(`./fixtures/consul/${name}.json`, import.meta.url), 'utf8'));

/** Headers of a Consul read (KV GET); writes and session calls carry only Content-Type. */
function readHeaders(index: number): Record<string, string> {
  return {
    'Content-Type': 'application/json',
    'X-Consul-Default-Acl-Policy': 'allow',
    'X-Consul-Effective-Consistency': 'leader',
    'X-Consul-Index': String(index),
    'X-Consul-KnownLeader': 'true',
    'X-Consul-LastContact': '0',
  };
}
const JSON_HEADERS = { 'Content-Type': 'application/json' };

type Reply = [status: number, body: unknown, headers: Record<string, string>];

/** One `GET /v1/kv/:key` body: an array of one entry, `Value` base64, `Session` only while locked. */
function kvEntry(entry: {
  modifyIndex: number;
  lockIndex: number;
  value?: string;
  session?: string;
}): Reply {
  const body: Record<string, unknown> = {
    CreateIndex: 12,
    ModifyIndex: entry.modifyIndex,
    LockIndex: entry.lockIndex,
    Key: 'ballast/lease/reports',
    Flags: 0,
    Value: entry.value === undefined ? null : Buffer.from(entry.value).toString('base64'),
  };
  if (entry.session !== undefined) body.Session = entry.session;
  return [200, [body], readHeaders(entry.modifyIndex)];
}
/** `GET /v1/kv/:key` of a key that does not exist: a 404 with an empty body. */
const NO_KEY: Reply = [404, '', readHeaders(7)];

const unmatched: string[] = [];
const onNoMatch = (req: { method?: string; path?: string }): void => {
  unmatched.push(`${req.method} ${req.path}`);
};

function backend(options: Partial<ConsulLeaseBackendOptions> = {}) {
  return consulLeaseBackend({ client: new Consul({ host: '127.0.0.1', port: 8500 }), ...options });
}

/** The requests of one successful acquire of the free key "reports" by session `session`. */
function acquireFree(
  scope: nock.Scope,
  session: string,
  owner: string,
  indexes: {
    before?: { modifyIndex: number; lockIndex: number };
    modifyIndex: number;
    lockIndex: number;
  },
  createBody?: (body: unknown) => boolean,
): nock.Scope {
  return scope
    .get(KEY_PATH)
    .reply(...(indexes.before ? kvEntry({ ...indexes.before, value: '' }) : NO_KEY))
    .put('/v1/session/create', createBody ?? (() => true))
    .reply(200, { ID: session }, JSON_HEADERS)
    .put(KEY_PATH, owner)
    .query({ acquire: session })
    .reply(200, 'true', JSON_HEADERS)
    .get(KEY_PATH)
    .reply(...kvEntry({ ...indexes, value: owner, session }));
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => undefined,
    (error: unknown) => error,
  );
}

beforeAll(() => {
  nock.disableNetConnect();
  nock.emitter.on('no match', onNoMatch);
});
afterEach(() => {
  expect(unmatched.splice(0), 'requests nock had no answer for').toEqual([]);
  nock.abortPendingRequests();
  nock.cleanAll();
});
afterAll(() => {
  nock.emitter.off('no match', onNoMatch);
  nock.enableNetConnect();
});

describe('consulLeaseBackend()', () => {
  it('acquires with a session (TTL, LockDelay, Behavior) and ?acquire=, renews the session, releases then destroys it', async () => {
    const created: unknown[] = [];
    const scope = nock(AGENT, { reqheaders: { 'x-consul-token': 'acl-secret' } });
    acquireFree(scope, S1, 'worker-a', { modifyIndex: 1204, lockIndex: 1 }, (body) => {
      created.push(body);
      return true;
    })
      .put(`/v1/session/renew/${S1}`)
      .reply(200, fixture('session-renew'), JSON_HEADERS)
      .get(KEY_PATH)
      .reply(...kvEntry({ modifyIndex: 1204, lockIndex: 1, value: 'worker-a', session: S1 }))
      .get(KEY_PATH)
      .reply(...kvEntry({ modifyIndex: 1204, lockIndex: 1, value: 'worker-a', session: S1 }))
      .put(KEY_PATH, '')
      .query({ release: S1 })
      .reply(200, 'true', JSON_HEADERS)
      .put(`/v1/session/destroy/${S1}`)
      .reply(200, 'true', JSON_HEADERS);

    const clock = new ManualClock(5000);
    const leases = backend({ token: 'acl-secret' });
    const lease = await acquireLease(leases, 'reports', {
      ttlMs: 12_000,
      owner: 'worker-a',
      autoRenew: false,
      clock,
    });
    expect(created).toEqual([
      {
        Name: 'ballast lease ballast/lease/reports',
        TTL: '12000ms',
        LockDelay: '15000ms',
        Behavior: 'release',
      },
    ]);
    // The token is the key's ModifyIndex of the acquisition.
    expect(lease.token).toBe(1204);
    expect(lease.expiresAt).toBe(17_000);
    clock.advance(3000);
    await lease.renew();
    expect(lease.expiresAt).toBe(20_000);
    expect(await leases.holder('reports')).toEqual({ owner: 'worker-a', token: 1204 });
    const reasons: LeaseLostReason[] = [];
    lease.onLost((reason) => reasons.push(reason));
    expect(await lease.release()).toBe(true);
    expect(reasons).toEqual(['released']);
    expect(scope.isDone()).toBe(true);
  });

  it('asks only for a read while someone else holds the key (LEASE_TIMEOUT, no session created)', async () => {
    const scope = nock(AGENT)
      .get(KEY_PATH)
      .reply(...kvEntry({ modifyIndex: 900, lockIndex: 5, value: 'worker-b', session: OTHER }))
      .get(KEY_PATH)
      .reply(...kvEntry({ modifyIndex: 900, lockIndex: 5, value: 'worker-b', session: OTHER }));
    const leases = backend();
    const error = await rejection(acquireLease(leases, 'reports', { ttlMs: 10_000 }));
    expect(isDiscoveryError(error, 'LEASE_TIMEOUT')).toBe(true);
    // leader() / holder(): who holds it, from the key's Session and value.
    expect(await leases.holder('reports')).toEqual({ owner: 'worker-b', token: 900 });
    expect(scope.isDone()).toBe(true);
  });

  it('honours the lock-delay after an invalidation: waits it out, then holds with a greater token', async () => {
    // The key is free (its last holder's session was invalidated) but Consul refuses it during the
    // lock-delay: ?acquire= answers false; the backend destroys its unused session and waits.
    const scope = nock(AGENT)
      .get(KEY_PATH)
      .reply(...kvEntry({ modifyIndex: 950, lockIndex: 5, value: 'worker-b' }))
      .put('/v1/session/create')
      .reply(200, { ID: S1 }, JSON_HEADERS)
      .put(KEY_PATH, 'worker-a')
      .query({ acquire: S1 })
      .reply(200, 'false', JSON_HEADERS)
      .put(`/v1/session/destroy/${S1}`)
      .reply(200, 'true', JSON_HEADERS);
    const clock = new ManualClock(0);
    const leases = backend({ lockDelayMs: 2000 });
    let settled = false;
    const pending = acquireLease(leases, 'reports', {
      ttlMs: 10_000,
      waitMs: 30_000,
      owner: 'worker-a',
      autoRenew: false,
      clock,
    }).finally(() => {
      settled = true;
    });
    await vi.waitFor(() => {
      expect(scope.isDone()).toBe(true);
      expect(clock.pending).toBe(1);
    });
    expect(settled).toBe(false);
    acquireFree(nock(AGENT), S2, 'worker-a', {
      before: { modifyIndex: 950, lockIndex: 5 },
      modifyIndex: 1010,
      lockIndex: 6,
    });
    clock.advance(2000);
    const lease = await pending;
    expect(lease.token).toBe(1010);
    expect(lease.token).toBeGreaterThan(950);
  });

  it('keeps tokens increasing when behavior "delete" removed the key and LockIndex starts over', async () => {
    const bodies: unknown[] = [];
    const record = (body: unknown): boolean => {
      bodies.push(body);
      return true;
    };
    const scope = nock(AGENT);
    acquireFree(scope, S1, 'worker-a', { modifyIndex: 42, lockIndex: 1 }, record);
    const leases = backend({ behavior: 'delete', lockDelayMs: 0 });
    const clock = new ManualClock(0);
    const first = await acquireLease(leases, 'reports', {
      owner: 'worker-a',
      autoRenew: false,
      clock,
    });
    // The session expires; Consul deletes the key ("delete" behavior).
    scope.put(`/v1/session/renew/${S1}`).reply(404, `Session id '${S1}' not found`, {
      'Content-Type': 'text/plain; charset=utf-8',
    });
    await rejection(first.renew());
    acquireFree(scope, S2, 'worker-b', { modifyIndex: 57, lockIndex: 1 }, record);
    const second = await acquireLease(leases, 'reports', {
      owner: 'worker-b',
      autoRenew: false,
      clock,
    });
    expect(bodies.map((b) => (b as { Behavior: string; LockDelay: string }).Behavior)).toEqual([
      'delete',
      'delete',
    ]);
    expect((bodies[0] as { LockDelay: string }).LockDelay).toBe('0ms');
    expect(second.token).toBe(57);
    expect(second.token).toBeGreaterThan(first.token);
    expect(scope.isDone()).toBe(true);
  });

  it('loses the lease with "session-invalidated" when the renewal answers 404', async () => {
    const scope = nock(AGENT);
    acquireFree(scope, S1, 'worker-a', { modifyIndex: 300, lockIndex: 2 })
      .put(`/v1/session/renew/${S1}`)
      .reply(404, `Session id '${S1}' not found`, { 'Content-Type': 'text/plain; charset=utf-8' });
    const clock = new ManualClock(0);
    const lease = await acquireLease(backend(), 'reports', {
      owner: 'worker-a',
      autoRenew: false,
      clock,
    });
    const reasons: LeaseLostReason[] = [];
    lease.onLost((reason) => reasons.push(reason));
    const error = await rejection(lease.renew());
    expect(isDiscoveryError(error, 'LEASE_LOST') && error.reason).toBe('session-invalidated');
    expect(lease.signal.aborted).toBe(true);
    expect((lease.signal.reason as LeaseLostError).reason).toBe('session-invalidated');
    expect(reasons).toEqual(['session-invalidated']);
    // The session is gone: releasing sends nothing (an unanswered request would fail the test).
    expect(await lease.release()).toBe(false);
    expect(scope.isDone()).toBe(true);
  });

  it('loses the lease with "stolen" when the key is held by another session after a renewal', async () => {
    const scope = nock(AGENT);
    acquireFree(scope, S1, 'worker-a', { modifyIndex: 300, lockIndex: 2 })
      .put(`/v1/session/renew/${S1}`)
      .reply(200, fixture('session-renew'), JSON_HEADERS)
      .get(KEY_PATH)
      .reply(...kvEntry({ modifyIndex: 344, lockIndex: 3, value: 'intruder', session: OTHER }))
      .put(`/v1/session/destroy/${S1}`)
      .reply(200, 'true', JSON_HEADERS);
    const lease = await acquireLease(backend(), 'reports', {
      owner: 'worker-a',
      autoRenew: false,
      clock: new ManualClock(0),
    });
    const error = await rejection(lease.renew());
    expect(isDiscoveryError(error, 'LEASE_LOST') && error.reason).toBe('stolen');
    expect(scope.isDone()).toBe(true);
  });

  it('does not count an acquire whose read-back shows another session (invalidated in between)', async () => {
    const scope = nock(AGENT)
      .get(KEY_PATH)
      .reply(...NO_KEY)
      .put('/v1/session/create')
      .reply(200, { ID: S1 }, JSON_HEADERS)
      .put(KEY_PATH, 'worker-a')
      .query({ acquire: S1 })
      .reply(200, 'true', JSON_HEADERS)
      .get(KEY_PATH)
      .reply(...kvEntry({ modifyIndex: 77, lockIndex: 2, value: 'worker-b', session: OTHER }))
      .put(`/v1/session/destroy/${S1}`)
      .reply(200, 'true', JSON_HEADERS);
    const result = await backend().acquire('reports', 'worker-a', 10_000);
    expect(result.acquired).toBe(false);
    expect(scope.isDone()).toBe(true);
  });

  it('fails with BACKEND_UNAVAILABLE on a Consul error or a request slower than timeoutMs; the lease stays held', async () => {
    const scope = nock(AGENT)
      .get(KEY_PATH)
      .reply(500, 'rpc error making call: No cluster leader', { 'Content-Type': 'text/plain' });
    const leases = backend({ timeoutMs: 100 });
    const error = await rejection(acquireLease(leases, 'reports'));
    expect(isDiscoveryError(error, 'BACKEND_UNAVAILABLE')).toBe(true);
    expect(String((error as Error).message)).toMatch(/HTTP 500.*No cluster leader/);
    expect(scope.isDone()).toBe(true);

    acquireFree(nock(AGENT), S1, 'worker-a', { modifyIndex: 300, lockIndex: 2 })
      .put(`/v1/session/renew/${S1}`)
      .delay(1000)
      .reply(200, fixture('session-renew'), JSON_HEADERS);
    const lease = await acquireLease(leases, 'reports', {
      owner: 'worker-a',
      autoRenew: false,
      clock: new ManualClock(0),
    });
    const slow = await rejection(lease.renew());
    expect(isDiscoveryError(slow, 'BACKEND_UNAVAILABLE')).toBe(true);
    expect(lease.signal.aborted).toBe(false);
  });

  it('refuses bad options with INVALID_OPTIONS naming the option', () => {
    for (const [options, option] of [
      [{}, 'client'],
      [{ client: { kv: {} } }, 'client'],
      [{ client: new Consul(), behavior: 'keep' }, 'behavior'],
      [{ client: new Consul(), lockDelayMs: -1 }, 'lockDelayMs'],
    ] as const) {
      let thrown: unknown;
      try {
        consulLeaseBackend(options as unknown as ConsulLeaseBackendOptions);
      } catch (error) {
        thrown = error;
      }
      expect(isDiscoveryError(thrown, 'INVALID_OPTIONS') && thrown.option).toBe(option);
    }
  });
});

describe('campaign() on Consul', () => {
  it('leads with a session-held key; leader() reads the key’s Session and value; close() releases', async () => {
    const scope = nock(AGENT);
    acquireFree(scope, S1, 'node-a', {
      modifyIndex: 5120,
      lockIndex: 9,
      before: { modifyIndex: 5001, lockIndex: 8 },
    })
      .get(KEY_PATH)
      .reply(...kvEntry({ modifyIndex: 5120, lockIndex: 9, value: 'node-a', session: S1 }))
      .put(KEY_PATH, '')
      .query({ release: S1 })
      .reply(200, 'true', JSON_HEADERS)
      .put(`/v1/session/destroy/${S1}`)
      .reply(200, 'true', JSON_HEADERS);
    const clock = new ManualClock(0);
    const elected: number[] = [];
    const lost: LeaseLostReason[] = [];
    const election = campaign(backend(), 'reports', {
      id: 'node-a',
      ttlMs: 10_000,
      clock,
      onElected: (lease) => elected.push(lease.token),
      onLost: (reason) => lost.push(reason),
    });
    clock.advance(0);
    await vi.waitFor(() => expect(election.isLeader()).toBe(true));
    expect(elected).toEqual([5120]);
    expect(await election.leader()).toEqual({ owner: 'node-a', token: 5120 });
    await election.close();
    expect(lost).toEqual(['shutdown']);
    expect(scope.isDone()).toBe(true);
  });
});
