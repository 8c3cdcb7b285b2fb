import type { Redis } from 'ioredis';
import { InvalidOptionsError } from '../errors.ts';

/** Options of {@link fencedSet}. */
export interface FencedSetOptions {
  /**
   * The key holding the highest token accepted for `key`. Default `<key>:fence`. In Redis Cluster
   * both keys must be in one slot: give `key` a hash tag (`{orders}:total`).
   */
  fenceKey?: string | undefined;
}

/** The resource side of a fencing token (see {@link fenced}). */
export interface Fence {
  /** The token writes are checked against. */
  readonly token: number;
  /**
   * Whether a resource that has already accepted `highestAccepted` (`undefined`/`null`: nothing
   * yet) may accept a write with this token: true when the token is not lower. The check and the
   * write must be one atomic step at the resource (a conditional `UPDATE`, a script).
   */
  accepts(highestAccepted: number | null | undefined): boolean;
  /** {@link fencedSet} with this token. */
  set(client: Redis, key: string, value: string, options?: FencedSetOptions): Promise<boolean>;
}

/** Atomically: refuse when the stored fence is higher than the token, else write both. */
const FENCED_SET = `local fence = tonumber(redis.call('GET', KEYS[2]))
local token = tonumber(ARGV[2])
if fence and token < fence then return 0 end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('SET', KEYS[2], ARGV[2])
return 1`;

function requireToken(token: unknown): asserts token is number {
  if (typeof token !== 'number' || !Number.isSafeInteger(token) || token < 0) {
    throw new InvalidOptionsError({
      option: 'token',
      received: token,
      message: 'token must be a lease fencing token (a non-negative integer), such as lease.token.',
    });
  }
}

/**
 * Writes `value` to `key` only if no write with a higher fencing token has been accepted for it,
 * in one Redis script. Resolves to `true` when written, `false` when refused (a newer holder has
 * written since: the caller's lease is stale and its work must stop).
 */
export async function fencedSet(
  client: Redis,
  key: string,
  value: string,
  token: number,
  options: FencedSetOptions = {},
): Promise<boolean> {
  requireToken(token);
  const fenceKey = options.fenceKey ?? `${key}:fence`;
  const written = await client.eval(FENCED_SET, 2, key, fenceKey, value, String(token));
  return Number(written) === 1;
}

/**
 * The resource-side check of a fencing token (a lease's `token`, or the lease itself): a lock
 * without it is an efficiency lock, not a correctness one — a holder stalled past its lease can
 * still write after the next holder has.
 */
export function fenced(token: number | { readonly token: number }): Fence {
  const value = typeof token === 'number' ? token : token?.token;
  requireToken(value);
  return {
    token: value,
    accepts: (highestAccepted) =>
      highestAccepted === null || highestAccepted === undefined || value >= highestAccepted,
    set: (client, key, written, options) => fencedSet(client, key, written, value, options),
  };
}
