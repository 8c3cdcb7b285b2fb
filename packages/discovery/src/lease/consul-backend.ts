import { o, parseOptions } from '@ballast/kernel';
import { BackendUnavailableError, InvalidOptionsError } from '../errors.ts';
import { goDuration } from '../registry-support.ts';
import type {
  LeaseAcquireResult,
  LeaseBackend,
  LeaseHolder,
  LeaseReleaseResult,
  LeaseRenewResult,
} from './backend.ts';

/**
 * The part of a `consul` (node-consul 2.x) client the lease backend uses: sessions and KV. Pass the
 * `new Consul(…)` you configured (TLS agent, defaults); the backend never destroys it.
 */
export interface ConsulLeaseClient {
  session: {
    create(options: object): Promise<unknown>;
    renew(options: object): Promise<unknown>;
    destroy(options: object): Promise<unknown>;
  };
  kv: {
    get(options: object): Promise<unknown>;
    set(options: object): Promise<unknown>;
  };
}

/** Options of {@link consulLeaseBackend}. */
export interface ConsulLeaseBackendOptions {
  /**
   * A `consul` client you own (`new Consul({ host, port, secure })` from the `consul` package, an
   * optional peer). The backend never destroys it.
   */
  client: ConsulLeaseClient;
  /** Prefix of every KV key; a lease `key` lives at `<prefix><key>`. Default `'ballast/lease/'`. */
  prefix?: string | undefined;
  /** ACL token sent with every request (`X-Consul-Token`); needs `session:write` and `key:write`. */
  token?: string | undefined;
  /** Datacenter of the sessions and keys. Default: the agent's own. */
  datacenter?: string | undefined;
  /**
   * Consul's lock-delay of each lease's session, in ms: after a session is *invalidated* (TTL ran
   * out, node check failed, session destroyed while holding), Consul refuses to let anyone acquire
   * its keys for this long — time for the old holder to notice and stop. A clean `release()` has
   * no lock-delay. `0` turns it off. Default `15000` (Consul's own default).
   */
  lockDelayMs?: number | undefined;
  /**
   * What Consul does with a held key when the session is invalidated: `'release'` (the key stays,
   * unlocked) or `'delete'` (the key is removed). Default `'release'`.
   */
  behavior?: 'release' | 'delete' | undefined;
  /**
   * Longest wait for one Consul request, in ms; a slower one fails with `BACKEND_UNAVAILABLE`.
   * Default `3000`.
   */
  timeoutMs?: number | undefined;
}

const schema = o.object({
  client: o.custom<ConsulLeaseClient>(
    (value) =>
      typeof value === 'object' &&
      value !== null &&
      typeof (value as { session?: { create?: unknown } }).session?.create === 'function' &&
      typeof (value as { kv?: { get?: unknown } }).kv?.get === 'function',
    'a consul client (new Consul(…) from the "consul" package)',
  ),
  prefix: o.string({ maxLength: 200 }).default('ballast/lease/'),
  token: o.string({ minLength: 1 }).optional(),
  datacenter: o.string({ minLength: 1 }).optional(),
  lockDelayMs: o.integer({ min: 0, max: 60_000 }).default(15_000),
  behavior: o.oneOf(['release', 'delete'] as const).default('release'),
  timeoutMs: o.integer({ min: 1 }).default(3000),
});

/** Consul's bounds of a session TTL. */
const MIN_SESSION_TTL_MS = 10_000;
const MAX_SESSION_TTL_MS = 86_400_000;

/** One entry of `GET /v1/kv/:key`, as node-consul returns it (Value already decoded). */
interface KvEntry {
  ModifyIndex?: unknown;
  LockIndex?: unknown;
  Session?: unknown;
  Value?: unknown;
}

function statusOf(error: unknown): number | undefined {
  const status = (error as { statusCode?: unknown } | null)?.statusCode;
  return typeof status === 'number' ? status : undefined;
}

function describe(error: unknown): string {
  const status = statusOf(error);
  const message = error instanceof Error ? error.message : String(error);
  if (status === undefined) return message;
  const hint =
    status === 403
      ? '; the ACL token (option "token") needs session:write on the node and key:write on the prefix'
      : '';
  return `HTTP ${status} (${message})${hint}`;
}

const index = (value: unknown): number | undefined =>
  typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? value : undefined;

/**
 * A lease backend on HashiCorp Consul: each lease is a Consul session (with a TTL, a lock-delay and
 * an invalidation behavior) that holds the KV key `<prefix><key>` through `?acquire=`; renewing
 * is `PUT /v1/session/renew`, releasing is `?release=` then destroying the session. Pass it to
 * `acquireLease()` and `campaign()`.
 *
 * The fencing token is the key's `ModifyIndex` as read right after the acquire, accepted only when
 * that read shows this lease's session holding the key with a `LockIndex` above the one seen
 * before the acquire (so the index is the acquisition's own write). `ModifyIndex` is a Raft index:
 * every later acquisition of the key is a later Raft write, so its index is strictly greater —
 * also when the key was deleted in between (`behavior: 'delete'`), where `LockIndex` starts over.
 */
export function consulLeaseBackend(options: ConsulLeaseBackendOptions): LeaseBackend {
  const opts = parseOptions(schema, options, {
    factory: 'consulLeaseBackend()',
    error: InvalidOptionsError,
  });
  const { client, prefix } = opts;
  /** The session behind each hold this backend took, by `<key>\0<token>`. */
  const sessions = new Map<string, string>();
  const holdId = (key: string, token: number): string => `${key}\u0000${token}`;
  const path = (key: string): string => `${prefix}${key}`;

  const common = (): Record<string, unknown> => {
    const out: Record<string, unknown> = { timeout: opts.timeoutMs };
    if (opts.token !== undefined) out.token = opts.token;
    if (opts.datacenter !== undefined) out.dc = opts.datacenter;
    return out;
  };

  /** Runs one request; any failure becomes `BACKEND_UNAVAILABLE`, except the statuses `pass` lets through. */
  const call = async <T>(what: string, request: () => Promise<T>): Promise<T> => {
    try {
      return await request();
    } catch (error) {
      throw new BackendUnavailableError('consul', `${what} failed: ${describe(error)}`, {
        cause: error,
      });
    }
  };

  const read = async (key: string): Promise<KvEntry | undefined> => {
    const entry = await call(`reading /v1/kv/${path(key)}`, () =>
      client.kv.get({ ...common(), key: path(key) }),
    );
    // node-consul answers undefined for a 404 (no such key).
    return typeof entry === 'object' && entry !== null ? (entry as KvEntry) : undefined;
  };

  const destroy = (session: string): Promise<unknown> =>
    client.session.destroy({ ...common(), id: session }).catch(() => undefined);

  const now = (): number => Date.now();

  return {
    kind: 'consul',

    async acquire(key, owner, ttlMs): Promise<LeaseAcquireResult> {
      // A held key is answered without creating a session: followers only read.
      const before = await read(key);
      if (typeof before?.Session === 'string' && before.Session !== '') {
        return { acquired: false, remainingMs: ttlMs, serverTimeMs: now() };
      }
      const lockIndexBefore = index(before?.LockIndex) ?? 0;
      // Consul keeps a session at least its TTL (and reaps it within twice that), so a TTL no
      // shorter than the lease's keeps the hold alive at least as long as the lease is valid here.
      const sessionTtlMs = Math.min(MAX_SESSION_TTL_MS, Math.max(MIN_SESSION_TTL_MS, ttlMs));
      const created = (await call('creating a session (PUT /v1/session/create)', () =>
        client.session.create({
          ...common(),
          name: `ballast lease ${path(key)}`,
          ttl: goDuration(sessionTtlMs),
          lockdelay: goDuration(opts.lockDelayMs),
          behavior: opts.behavior,
        }),
      )) as { ID?: unknown } | undefined;
      const session = created?.ID;
      if (typeof session !== 'string' || session === '') {
        throw new BackendUnavailableError(
          'consul',
          'PUT /v1/session/create answered without a session ID; is this a Consul agent?',
        );
      }
      let taken: unknown;
      try {
        taken = await client.kv.set({
          ...common(),
          key: path(key),
          value: owner,
          acquire: session,
        });
      } catch (error) {
        await destroy(session);
        throw new BackendUnavailableError(
          'consul',
          `acquiring /v1/kv/${path(key)} failed: ${describe(error)}`,
          { cause: error },
        );
      }
      if (taken !== true) {
        await destroy(session);
        // Unheld yet refused: the key is in a lock-delay after its holder's session was
        // invalidated. Nobody can take it before that ends.
        return { acquired: false, remainingMs: Math.max(1, opts.lockDelayMs), serverTimeMs: now() };
      }
      let after: KvEntry | undefined;
      try {
        after = await read(key);
      } catch (error) {
        await client.kv
          .set({ ...common(), key: path(key), value: owner, release: session })
          .catch(() => undefined);
        await destroy(session);
        throw error;
      }
      const token = index(after?.ModifyIndex);
      const lockIndex = index(after?.LockIndex);
      if (
        after?.Session !== session ||
        token === undefined ||
        lockIndex === undefined ||
        lockIndex <= lockIndexBefore
      ) {
        // The session lost the key before the read (invalidated, then someone else took it): this
        // acquire did not happen as far as anyone can tell.
        await destroy(session);
        return { acquired: false, remainingMs: ttlMs, serverTimeMs: now() };
      }
      sessions.set(holdId(key, token), session);
      return { acquired: true, token, serverTimeMs: now() };
    },

    async renew(key, token): Promise<LeaseRenewResult> {
      const id = holdId(key, token);
      const session = sessions.get(id);
      if (session === undefined) return { status: 'missing', serverTimeMs: now() };
      let renewed: unknown;
      try {
        renewed = await client.session.renew({ ...common(), id: session });
      } catch (error) {
        if (statusOf(error) !== 404) {
          throw new BackendUnavailableError(
            'consul',
            `renewing session ${session} failed: ${describe(error)}`,
            { cause: error },
          );
        }
        renewed = undefined;
      }
      if (!Array.isArray(renewed) || renewed.length === 0) {
        // 404 "Session id '…' not found": its TTL ran out, its node check failed, or it was
        // destroyed. Its locks are released (or deleted) and under lock-delay.
        sessions.delete(id);
        return { status: 'session-invalidated', serverTimeMs: now() };
      }
      const entry = await read(key);
      if (entry?.Session !== session) {
        // The session lives, but the key is no longer locked by it: someone released it with
        // this session's ID, or deleted the key.
        sessions.delete(id);
        await destroy(session);
        return { status: 'stolen', serverTimeMs: now() };
      }
      return { status: 'ok', serverTimeMs: now() };
    },

    async release(key, token): Promise<LeaseReleaseResult> {
      const id = holdId(key, token);
      const session = sessions.get(id);
      if (session === undefined) return { released: false, serverTimeMs: now() };
      sessions.delete(id);
      // Release the key first, then destroy the session: destroying a session that still holds
      // the key would invalidate it and start a lock-delay nobody needs.
      let released: unknown;
      try {
        released = await client.kv.set({
          ...common(),
          key: path(key),
          value: '',
          release: session,
        });
      } catch (error) {
        await destroy(session);
        throw new BackendUnavailableError(
          'consul',
          `releasing /v1/kv/${path(key)} failed: ${describe(error)}`,
          { cause: error },
        );
      }
      await destroy(session);
      return { released: released === true, serverTimeMs: now() };
    },

    async holder(key): Promise<LeaseHolder | undefined> {
      const entry = await read(key);
      const token = index(entry?.ModifyIndex);
      if (typeof entry?.Session !== 'string' || entry.Session === '' || token === undefined) {
        return undefined;
      }
      return { owner: typeof entry.Value === 'string' ? entry.Value : '', token };
    },
  };
}
