import { createHash } from 'node:crypto';
import { o, parseOptions } from '@ballast/kernel';
import type { Redis } from 'ioredis';
import { BackendUnavailableError, InvalidOptionsError } from '../errors.ts';
import type {
  LeaseAcquireResult,
  LeaseBackend,
  LeaseHolder,
  LeaseReleaseResult,
  LeaseRenewResult,
} from './backend.ts';

/** Options of {@link redisLeaseBackend}. */
export interface RedisLeaseBackendOptions {
  /**
   * An ioredis `Redis` client you own (the backend never closes it). Leases are only as safe as
   * this one Redis: with replicas, a failover can lose a hold (the fencing token then still
   * protects a resource that checks it).
   */
  client: Redis;
  /** Prefix of every key. Default `'ballast:lease:'`. */
  prefix?: string | undefined;
  /**
   * Longest wait for one Redis command, in ms; a command that takes longer fails with
   * `BACKEND_UNAVAILABLE` (ioredis queues commands while it reconnects). Default `2000`.
   */
  timeoutMs?: number | undefined;
}

const schema = o.object({
  client: o.custom<Redis>(
    (value) =>
      typeof value === 'object' &&
      value !== null &&
      typeof (value as { eval?: unknown }).eval === 'function',
    'an ioredis Redis client',
  ),
  prefix: o.string({ maxLength: 200 }).default('ballast:lease:'),
  timeoutMs: o.integer({ min: 1 }).default(2000),
});

// Per lease key, with a hash tag so that both keys are in one Cluster slot:
//   <prefix>{<key>}:holder  string "<token> <owner>", with a PX expiry: the hold itself
//   <prefix>{<key>}:fence   integer, never expires: the last token handed out (INCR)
// Every script returns the server time (TIME), so that a history can be checked on Redis's clock.
//
// A missing fence (a restart without persistence, FLUSHALL, eviction under an allkeys-* policy)
// is seeded with Redis's TIME in microseconds before the INCR, never with 0: every token is then
// at most "the µs of its key's last seeding + the acquisitions since", which stays below the
// clock as long as a key is not acquired more than once per µs on average (one acquisition is a
// network round trip) — so a re-seeded fence starts above every token handed out before it, as
// long as Redis's clock has not stepped back. Tokens stay below 2^53 (exact in a double and in
// JavaScript) until the year 2255.

const NOW = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`;

/**
 * SET NX PX and INCR of the fence in one script: the token is taken only with the hold. A missing
 * fence is seeded with TIME's seconds and zero-padded microseconds, concatenated: an exact integer
 * string (a Lua number this large would be written with %.14g, i.e. rounded); the token is written
 * into the hold with %d for the same reason.
 */
const ACQUIRE = `${NOW}
if redis.call('EXISTS', KEYS[1]) == 1 then
  return { 0, redis.call('PTTL', KEYS[1]), now }
end
if redis.call('EXISTS', KEYS[2]) == 0 then
  redis.call('SET', KEYS[2], t[1] .. string.format('%06d', tonumber(t[2])))
end
local token = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], string.format('%d', token) .. ' ' .. ARGV[2], 'NX', 'PX', ARGV[1])
return { 1, token, now }`;

/** Compare-and-set: only the holder's token extends, and only while the key exists. */
const RENEW = `${NOW}
local value = redis.call('GET', KEYS[1])
if not value then return { 0, now } end
if string.match(value, '^%d+') ~= ARGV[1] then return { -1, now } end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return { 1, now }`;

/** Compare-and-delete. */
const RELEASE = `${NOW}
local value = redis.call('GET', KEYS[1])
if value and string.match(value, '^%d+') == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return { 1, now }
end
return { 0, now }`;

/** A Lua script and its SHA1 (for EVALSHA). */
interface Script {
  readonly body: string;
  readonly sha: string;
}
const script = (body: string): Script => ({
  body,
  sha: createHash('sha1').update(body).digest('hex'),
});
let scripts: { acquire: Script; renew: Script; release: Script } | undefined;

/**
 * A lease backend on one Redis (5.0 or later): holds are keys with a `PX` expiry, fencing tokens
 * an `INCR` per key in the same script. Pass it to `acquireLease()` and `campaign()`.
 */
export function redisLeaseBackend(options: RedisLeaseBackendOptions): LeaseBackend {
  const { client, prefix, timeoutMs } = parseOptions(schema, options, {
    factory: 'redisLeaseBackend()',
    error: InvalidOptionsError,
  });
  scripts ??= { acquire: script(ACQUIRE), renew: script(RENEW), release: script(RELEASE) };
  const { acquire, renew, release } = scripts;
  const keys = (key: string): [string, string] => [
    `${prefix}{${key}}:holder`,
    `${prefix}{${key}}:fence`,
  ];

  // EVALSHA first (the script's body is not sent nor hashed by Redis each time); EVAL when Redis
  // does not know it (NOSCRIPT: first use, or after a restart or SCRIPT FLUSH), which caches it.
  const evaluate = (script: Script, key: string, args: (string | number)[]): Promise<unknown> => {
    const [holder, fence] = keys(key);
    if (typeof client.evalsha !== 'function')
      return client.eval(script.body, 2, holder, fence, ...args);
    return client.evalsha(script.sha, 2, holder, fence, ...args).catch((error: unknown) => {
      if (error instanceof Error && error.message.startsWith('NOSCRIPT')) {
        return client.eval(script.body, 2, holder, fence, ...args);
      }
      throw error;
    });
  };

  const run = (script: Script, key: string, ...args: (string | number)[]): Promise<number[]> =>
    new Promise<number[]>((resolve, reject) => {
      // Not unref'd: the caller awaits this command, so its deadline must keep the process alive.
      const timer = setTimeout(
        () =>
          reject(
            new BackendUnavailableError('redis', `no answer within ${timeoutMs} ms (timeoutMs)`),
          ),
        timeoutMs,
      );
      evaluate(script, key, args).then(
        (reply) => {
          clearTimeout(timer);
          resolve((reply as (number | string)[]).map(Number));
        },
        (error: unknown) => {
          clearTimeout(timer);
          reject(
            new BackendUnavailableError(
              'redis',
              error instanceof Error ? error.message : String(error),
              { cause: error },
            ),
          );
        },
      );
    });

  return {
    kind: 'redis',
    async acquire(key, owner, ttlMs): Promise<LeaseAcquireResult> {
      const [ok, value, now] = await run(acquire, key, ttlMs, owner);
      return ok === 1
        ? { acquired: true, token: value!, serverTimeMs: now! }
        : { acquired: false, remainingMs: Math.max(0, value!), serverTimeMs: now! };
    },
    async renew(key, token, ttlMs): Promise<LeaseRenewResult> {
      const [status, now] = await run(renew, key, String(token), ttlMs);
      return {
        status: status === 1 ? 'ok' : status === 0 ? 'missing' : 'stolen',
        serverTimeMs: now!,
      };
    },
    async release(key, token): Promise<LeaseReleaseResult> {
      const [released, now] = await run(release, key, String(token));
      return { released: released === 1, serverTimeMs: now! };
    },
    async holder(key): Promise<LeaseHolder | undefined> {
      let value: string | null;
      try {
        value = await client.get(keys(key)[0]);
      } catch (error) {
        throw new BackendUnavailableError(
          'redis',
          error instanceof Error ? error.message : String(error),
          { cause: error },
        );
      }
      if (value === null) return undefined;
      const space = value.indexOf(' ');
      return { token: Number(value.slice(0, space)), owner: value.slice(space + 1) };
    },
  };
}
