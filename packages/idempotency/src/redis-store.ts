import { type Cluster, Redis } from 'ioredis';
import { z } from 'zod';
import { abortError, IdempotencyError } from './errors.ts';
import { parseOptions } from './options.ts';
import type {
  ClaimInput,
  ClaimResult,
  CompleteInput,
  IdempotencyStore,
  LockInput,
} from './store.ts';

// One hash per idempotency key: s = state (l locked, c completed), o = owner, f = fingerprint,
// p = payload. Every script touches that one key, so a claim, a completion or a replay is one
// round trip and the store is Redis Cluster safe.
const CLAIM = `
local r = redis.call('HMGET', KEYS[1], 's', 'f', 'p')
if not r[1] then
  redis.call('HSET', KEYS[1], 's', 'l', 'o', ARGV[1], 'f', ARGV[2])
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  return {1}
end
if r[2] ~= ARGV[2] then return {3} end
if r[1] == 'c' then return {4, r[3]} end
return {2}`;

const OWNED = `local r = redis.call('HMGET', KEYS[1], 's', 'o')
if r[1] ~= 'l' or r[2] ~= ARGV[1] then return 0 end
`;
const EXTEND = `${OWNED}redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1`;
const COMPLETE = `${OWNED}redis.call('HSET', KEYS[1], 's', 'c', 'p', ARGV[2]) redis.call('PEXPIRE', KEYS[1], ARGV[3]) return 1`;
const RELEASE = `${OWNED}redis.call('DEL', KEYS[1]) return 1`;

type Reply = [number, Buffer?];
interface ScriptedClient {
  ballastIdemClaimBuffer(
    key: string,
    owner: string,
    fingerprint: string,
    ttl: number,
  ): Promise<Reply>;
  ballastIdemExtend(key: string, owner: string, ttl: number): Promise<number>;
  ballastIdemComplete(
    key: string,
    owner: string,
    payload: Uint8Array,
    ttl: number,
  ): Promise<number>;
  ballastIdemRelease(key: string, owner: string): Promise<number>;
}

const redisStoreOptions = z
  .object({
    client: z
      .custom<Redis | Cluster>(
        (v) =>
          typeof v === 'object' && v !== null && typeof (v as Redis).defineCommand === 'function',
        'expected an ioredis Redis or Cluster client',
      )
      .optional(),
    url: z.string().url().optional(),
    prefix: z.string().default('idem:'),
    operationTimeoutMs: z.number().int().positive().default(1_000),
  })
  .strict()
  .refine((o) => (o.client === undefined) !== (o.url === undefined), {
    message: 'pass exactly one of client or url',
    path: ['client'],
  });

/** Options of {@link RedisStore}. */
export interface RedisStoreOptions {
  /** An ioredis `Redis` or `Cluster` you own (the store never closes it). */
  client?: Redis | Cluster;
  /** Or a URL: the store opens (and on `close()` quits) its own client. */
  url?: string;
  /** Prefix of every key; each record is `<prefix>{<hash>}` (a hash tag, so Cluster keeps a record in one slot). Default `idem:`. */
  prefix?: string;
  /** Longest wait for any Redis command; past it the operation fails with STORE_UNAVAILABLE. Default 1000. */
  operationTimeoutMs?: number;
}

/**
 * The Redis store (ioredis; single node or Cluster). A claim — lock, fingerprint check and the
 * stored response — is one Lua script and one round trip; completing is one more; a replay is
 * the claim alone. Every command is bounded by `operationTimeoutMs`, so a down or slow Redis
 * fails fast with `STORE_UNAVAILABLE` instead of hanging the request.
 */
export class RedisStore implements IdempotencyStore {
  readonly #client: Redis | Cluster;
  readonly #scripts: ScriptedClient;
  readonly #owned: boolean;
  readonly #prefix: string;
  readonly #timeoutMs: number;

  constructor(options: RedisStoreOptions) {
    const parsed = parseOptions(redisStoreOptions, options, 'RedisStore');
    this.#owned = parsed.client === undefined;
    this.#client =
      parsed.client ??
      new Redis(parsed.url!, {
        maxRetriesPerRequest: 1,
        commandTimeout: parsed.operationTimeoutMs,
      });
    this.#prefix = parsed.prefix;
    this.#timeoutMs = parsed.operationTimeoutMs;
    const define = (name: string, lua: string) =>
      this.#client.defineCommand(name, { numberOfKeys: 1, lua });
    define('ballastIdemClaim', CLAIM);
    define('ballastIdemExtend', EXTEND);
    define('ballastIdemComplete', COMPLETE);
    define('ballastIdemRelease', RELEASE);
    this.#scripts = this.#client as unknown as ScriptedClient;
  }

  async claim({ key, fingerprint, owner, lockTtlMs, signal }: ClaimInput): Promise<ClaimResult> {
    const [state, payload] = await this.#run(
      'claim',
      this.#scripts.ballastIdemClaimBuffer(this.#key(key), owner, fingerprint, lockTtlMs),
      signal,
    );
    if (state === 1) return { state: 'claimed' };
    if (state === 2) return { state: 'locked' };
    if (state === 3) return { state: 'mismatch' };
    return { state: 'completed', payload: payload! };
  }

  async extend({ key, owner, lockTtlMs, signal }: LockInput): Promise<boolean> {
    const p = this.#scripts.ballastIdemExtend(this.#key(key), owner, lockTtlMs ?? this.#timeoutMs);
    return (await this.#run('extend', p, signal)) === 1;
  }

  async complete({ key, owner, payload, retentionMs, signal }: CompleteInput): Promise<boolean> {
    const p = this.#scripts.ballastIdemComplete(this.#key(key), owner, payload, retentionMs);
    return (await this.#run('complete', p, signal)) === 1;
  }

  async release({ key, owner, signal }: LockInput): Promise<boolean> {
    return (
      (await this.#run(
        'release',
        this.#scripts.ballastIdemRelease(this.#key(key), owner),
        signal,
      )) === 1
    );
  }

  /** Quits the client if the store opened it (from `url`); a client you passed stays open. */
  async close(): Promise<void> {
    if (this.#owned) await this.#client.quit().catch(() => this.#client.disconnect());
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #key(key: string): string {
    return `${this.#prefix}{${key}}`;
  }

  /** Races a command with `operationTimeoutMs` and the signal; maps every failure to STORE_UNAVAILABLE. */
  #run<T>(operation: string, command: Promise<T>, signal?: AbortSignal): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (signal?.aborted) return reject(abortError(signal));
      const onAbort = () => settle(() => reject(abortError(signal!)));
      const timer = setTimeout(
        () =>
          settle(() =>
            reject(
              new IdempotencyError(
                'STORE_UNAVAILABLE',
                `Redis did not answer the idempotency ${operation} within ${this.#timeoutMs} ms (operationTimeoutMs); check that Redis is up and reachable.`,
              ),
            ),
          ),
        this.#timeoutMs,
      );
      timer.unref();
      let settled = false;
      const settle = (fn: () => void) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        fn();
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      command.then(
        (value) => settle(() => resolve(value)),
        (error: unknown) =>
          settle(() =>
            reject(
              new IdempotencyError(
                'STORE_UNAVAILABLE',
                `Redis failed the idempotency ${operation}: ${(error as Error)?.message ?? String(error)}.`,
                { cause: error },
              ),
            ),
          ),
      );
    });
  }
}
