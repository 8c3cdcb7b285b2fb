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

// One string value per idempotency key: a state character (L locked, C completed), the
// fingerprint, a newline, then the owner (L) or the stored payload bytes (C). Fingerprints are
// the engine's base64url digests, so they never contain a newline.
//
// claim    = SET key <lock> PX ttl NX GET: one native command, atomic, and when the key exists it
//            answers the record itself (the fingerprint to check and the payload to replay).
// complete / extend / release = a short script that acts only while the value is still this
//            owner's lock (fencing: a late owner whose lock expired cannot overwrite).
// Every command touches one key, so the store is Redis Cluster safe.
const COMPLETE = `if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3]) return 1`;
const EXTEND = `if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
return redis.call('PEXPIRE', KEYS[1], ARGV[2])`;
const RELEASE = `if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
return redis.call('DEL', KEYS[1])`;

const COMPLETED = 0x43; // 'C'
const NEWLINE = 0x0a;

interface ScriptedClient {
  setBuffer(
    key: string,
    value: string,
    px: 'PX',
    ttl: number,
    nx: 'NX',
    get: 'GET',
  ): Promise<Buffer | null>;
  ballastIdemExtend(key: string, lock: string, ttl: number): Promise<number>;
  ballastIdemComplete(key: string, lock: string, record: Buffer, ttl: number): Promise<number>;
  ballastIdemRelease(key: string, lock: string): Promise<number>;
}

const lockValue = (fingerprint: string, owner: string) => `L${fingerprint}\n${owner}`;

function completedValue(fingerprint: string, payload: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(2 + fingerprint.length + payload.byteLength);
  out[0] = COMPLETED;
  out.write(fingerprint, 1, 'latin1');
  out[1 + fingerprint.length] = NEWLINE;
  out.set(payload, 2 + fingerprint.length);
  return out;
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
  /** Prefix of every key; each record is `<prefix>{<scope and key>}` (a hash tag: Cluster keeps a record in one slot). Default `idem:`. */
  prefix?: string;
  /** Longest wait for any Redis command; past it the operation fails with STORE_UNAVAILABLE. Default 1000. */
  operationTimeoutMs?: number;
}

/**
 * The Redis store (ioredis; Redis ≥ 7.0, single node or Cluster). A claim — lock, and the stored
 * record when the key exists — is one `SET … NX GET` round trip; completing is one more; a replay
 * is the claim alone. Every command is bounded by `operationTimeoutMs`, so a down or slow Redis
 * fails fast with `STORE_UNAVAILABLE` instead of hanging the request.
 */
export class RedisStore implements IdempotencyStore {
  readonly #client: Redis | Cluster;
  readonly #commands: ScriptedClient;
  readonly #owned: boolean;
  readonly #prefix: string;
  readonly #timeoutMs: number;
  #corked = false;

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
    define('ballastIdemExtend', EXTEND);
    define('ballastIdemComplete', COMPLETE);
    define('ballastIdemRelease', RELEASE);
    this.#commands = this.#client as unknown as ScriptedClient;
  }

  async claim({ key, fingerprint, owner, lockTtlMs, signal }: ClaimInput): Promise<ClaimResult> {
    this.#cork();
    const found = await this.#run(
      'claim',
      this.#commands.setBuffer(
        this.#key(key),
        lockValue(fingerprint, owner),
        'PX',
        lockTtlMs,
        'NX',
        'GET',
      ),
      signal,
    );
    if (found === null) return { state: 'claimed' };
    const end = found.indexOf(NEWLINE);
    if (found.toString('latin1', 1, end) !== fingerprint) return { state: 'mismatch' };
    if (found[0] === COMPLETED) return { state: 'completed', payload: found.subarray(end + 1) };
    return { state: 'locked' };
  }

  async extend({ key, owner, fingerprint, lockTtlMs, signal }: LockInput): Promise<boolean> {
    this.#cork();
    const lock = lockValue(fingerprint, owner);
    const p = this.#commands.ballastIdemExtend(this.#key(key), lock, lockTtlMs ?? this.#timeoutMs);
    return (await this.#run('extend', p, signal)) === 1;
  }

  async complete({
    key,
    owner,
    fingerprint,
    payload,
    retentionMs,
    signal,
  }: CompleteInput): Promise<boolean> {
    this.#cork();
    const done = completedValue(fingerprint, payload);
    const p = this.#commands.ballastIdemComplete(
      this.#key(key),
      lockValue(fingerprint, owner),
      done,
      retentionMs,
    );
    return (await this.#run('complete', p, signal)) === 1;
  }

  async release({ key, owner, fingerprint, signal }: LockInput): Promise<boolean> {
    this.#cork();
    const lock = lockValue(fingerprint, owner);
    return (
      (await this.#run(
        'release',
        this.#commands.ballastIdemRelease(this.#key(key), lock),
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

  /**
   * Batches the commands of one event-loop turn into one socket write (what node-redis does):
   * under concurrency this saves a syscall per command. Only for a single-node client that is
   * ready; a Cluster writes as usual.
   */
  #cork(): void {
    if (this.#corked) return;
    const client = this.#client as Redis & { stream?: { cork?: () => void; uncork?: () => void } };
    const stream = client.stream;
    if (client.status !== 'ready' || typeof stream?.cork !== 'function') return;
    this.#corked = true;
    stream.cork();
    setImmediate(() => {
      this.#corked = false;
      stream.uncork?.();
    });
  }

  #key(key: string): string {
    return `${this.#prefix}{${key}}`;
  }

  /** Races a command with `operationTimeoutMs` and the signal; maps every failure to STORE_UNAVAILABLE. */
  #run<T>(operation: string, command: Promise<T>, signal?: AbortSignal): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (signal?.aborted) return reject(abortError(signal));
      let settled = false;
      const settle = (fn: () => void) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        fn();
      };
      const onAbort = () => settle(() => reject(abortError(signal!)));
      const timer = setTimeout(
        () => settle(() => reject(this.#unavailable(operation))),
        this.#timeoutMs,
      );
      timer.unref();
      signal?.addEventListener('abort', onAbort, { once: true });
      command.then(
        (value) => settle(() => resolve(value)),
        (error: unknown) => settle(() => reject(this.#unavailable(operation, error))),
      );
    });
  }

  #unavailable(operation: string, cause?: unknown): IdempotencyError {
    const why =
      cause === undefined
        ? `did not answer the idempotency ${operation} within ${this.#timeoutMs} ms (operationTimeoutMs)`
        : `failed the idempotency ${operation}: ${(cause as Error)?.message ?? String(cause)}`;
    return new IdempotencyError(
      'STORE_UNAVAILABLE',
      `Redis ${why}; check that Redis is up and reachable.`,
      { cause },
    );
  }
}
