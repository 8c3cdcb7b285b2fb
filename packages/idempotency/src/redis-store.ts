import { createRequire } from 'node:module';
import { ListenerList, o, raceAbort, type Subscription, unrefTimer } from '@ballast/kernel';
import type { Cluster, Redis } from 'ioredis';
import { abortedBy, InvalidOptionsError, StoreUnavailableError, storeClosed } from './errors.ts';
import { nodeCrypto } from './fingerprint.ts';
import { parse } from './options.ts';
import {
  type ClaimInput,
  type ClaimResult,
  COMPLETE_TEXT,
  type CompleteInput,
  type CompleteTextInput,
  type IdempotencyStore,
  type LockInput,
  type TextCompletingStore,
} from './store.ts';

// Fast-path invariants of this file (change a line here only with these in mind):
//
// 1. Round trips: a claim is one command (SET NX GET, which also returns a completed record, so a
//    replay is that one command) and a completion one more (EVALSHA, or EVAL the first time on a
//    connection). Guarded by the round-trip test in test/redis.test.ts ("claims, completes and
//    replays in one round trip each") and the `round-trips` group of bench/idempotency.bench.ts
//    (2 / 1).
// 2. Fencing: complete, extend and release act only while the value is still this owner's lock,
//    inside one script. Guarded by "fences a late completion from an owner whose lock expired"
//    (test/redis.test.ts) and the SIGKILL and 100-duplicates tests there.
// 3. Deadlines: one queue and one timer per store (`Deadlines`), never a timer per command; the
//    queue is in send order because every command has the same timeout. Guarded by
//    test/deadlines.test.ts and "answers 503 when Redis is paused longer than operationTimeoutMs".
// 4. Corking: the commands of one event-loop turn leave in one socket write, on a ready
//    single-node client only (a Cluster writes as usual). Covered by every Redis test; the gain
//    shows in the `fresh` group of the bench.
// 5. One promise per command: `Deadlines.track` settles the caller's promise with the answer
//    already parsed (`claimResult`, `isOne`), so the store's methods are not async functions
//    awaiting it. A parse that throws rejects that promise. Guarded by every RedisStore test
//    (test/redis.test.ts) and test/deadlines.test.ts.
// 6. Text completions: `[COMPLETE_TEXT]` sends the completed record as one string (`C`, the
//    fingerprint, a newline, the payload text), so every argument of the EVALSHA is a string and
//    ioredis writes the command as one string, encoded once by the socket; a Buffer argument
//    would make it assemble the command in a buffer of its own (a copy and measurably more CPU
//    per completion). The bytes in Redis are the same as `complete()` with the text's UTF-8
//    bytes. Guarded by "completes with text exactly as with its UTF-8 bytes" (test/redis.test.ts).
// 7. Scripts without defineCommand: EVALSHA through ioredis's generic command, EVAL the first time
//    on each connection (`StoreScript.sent`), and an EVALSHA answered NOSCRIPT is sent once more as
//    EVAL within the same deadline (`Deadlines.track`'s `noScript`), so a restarted or flushed
//    Redis costs one extra round trip, never a failed completion. Guarded by "loads its scripts
//    with EVAL once per connection, then runs them by EVALSHA" and "still completes after SCRIPT
//    FLUSH" (test/redis.test.ts).
//
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

/** The commands the store sends (ioredis's generic ones, on a `Redis` or a `Cluster`). */
interface CommandClient {
  setBuffer(
    key: string,
    value: string,
    px: 'PX',
    ttl: number,
    nx: 'NX',
    get: 'GET',
  ): Promise<Buffer | null>;
  evalsha(sha: string, keys: 1, ...args: Array<string | number | Uint8Array>): Promise<unknown>;
  eval(script: string, keys: 1, ...args: Array<string | number | Uint8Array>): Promise<unknown>;
  /** A single-node client's current connection (a `Cluster` has none). */
  readonly stream?: object | undefined;
}

/**
 * One of the store's Lua scripts, run by `EVALSHA` — or by `EVAL`, which also loads it, the first
 * time on each connection (so a completion is one round trip even on a new connection or a fresh
 * Redis). Sent through ioredis's generic commands rather than `defineCommand`, whose wrapper
 * (a command subclass, an extra promise and closure per call) cost about 2 µs of client CPU per
 * completion in bench/completion.ts.
 */
class StoreScript {
  readonly lua: string;
  #sha: string | undefined;
  /** Connections on which this script was sent with EVAL (and so is loaded). */
  readonly sent = new WeakSet<object>();

  constructor(lua: string) {
    this.lua = lua;
  }

  /** The script's SHA-1, computed on first use (node:crypto is not loaded at import). */
  get sha(): string {
    this.#sha ??= nodeCrypto().hash('sha1', this.lua, 'hex');
    return this.#sha;
  }
}

const EXTEND_SCRIPT = new StoreScript(EXTEND);
const COMPLETE_SCRIPT = new StoreScript(COMPLETE);
const RELEASE_SCRIPT = new StoreScript(RELEASE);

/** True for Redis's answer to an EVALSHA whose script it does not have (restarted, SCRIPT FLUSH). */
const isNoScript = (error: unknown) =>
  typeof (error as Error | null)?.message === 'string' &&
  (error as Error).message.startsWith('NOSCRIPT');

const lockValue = (fingerprint: string, owner: string) => `L${fingerprint}\n${owner}`;

function completedValue(fingerprint: string, payload: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(2 + fingerprint.length + payload.byteLength);
  out[0] = COMPLETED;
  out.write(fingerprint, 1, 'latin1');
  out[1 + fingerprint.length] = NEWLINE;
  out.set(payload, 2 + fingerprint.length);
  return out;
}

const CLAIMED: ClaimResult = Object.freeze({ state: 'claimed' });
const LOCKED: ClaimResult = Object.freeze({ state: 'locked' });
const MISMATCH: ClaimResult = Object.freeze({ state: 'mismatch' });

/** What `SET … NX GET` answered, as a claim result: nothing there, or the record that is. */
function claimResult(found: Buffer | null, fingerprint: string): ClaimResult {
  if (found === null) return CLAIMED;
  const end = found.indexOf(NEWLINE);
  if (found.toString('latin1', 1, end) !== fingerprint) return MISMATCH;
  if (found[0] === COMPLETED) return { state: 'completed', payload: found.subarray(end + 1) };
  return LOCKED;
}

const isOne = (answer: unknown) => answer === 1;

/**
 * The part of an ioredis `Redis` or `Cluster` client the store relies on. Structural, so these
 * types do not need ioredis installed; pass the client itself.
 */
export interface RedisClientLike {
  /** ioredis's connection status (`ready`, `connecting`, `reconnecting`, `end`, …). */
  readonly status: string;
  defineCommand(name: string, definition: { numberOfKeys?: number; lua: string }): void;
  quit(): Promise<unknown>;
  disconnect(): void;
}

const redisStoreSchema = o
  .object({
    client: o
      .custom<RedisClientLike>(
        (v) =>
          typeof v === 'object' &&
          v !== null &&
          typeof (v as RedisClientLike).defineCommand === 'function',
        'an ioredis Redis or Cluster client',
      )
      .optional(),
    url: o
      .string({ pattern: { regex: /^rediss?:\/\/\S*$/, expected: 'a redis:// or rediss:// URL' } })
      .optional(),
    prefix: o.string().default('idem:'),
    operationTimeoutMs: o.integer({ min: 1 }).default(1_000),
  })
  .refine(
    (v) => (v.client === undefined) !== (v.url === undefined),
    'must have exactly one of client or url',
  );

/** Options of {@link redisStore}. */
export interface RedisStoreOptions {
  /** An ioredis `Redis` or `Cluster` you own (the store never closes it). Either this or `url`. */
  client?: RedisClientLike | undefined;
  /**
   * Or a URL: the store opens its own ioredis client (ioredis must be installed), reports its
   * connection errors through `onError`, and quits it on `close()`.
   */
  url?: string | undefined;
  /** Prefix of every key; each record is `<prefix>{<scope and key>}` (a hash tag: Cluster keeps a record in one slot). Default `idem:`. */
  prefix?: string | undefined;
  /** Longest wait for any Redis command; past it the operation fails with STORE_UNAVAILABLE. Default 1000. */
  operationTimeoutMs?: number | undefined;
}

/** The Redis {@link IdempotencyStore} (see {@link redisStore}). */
export interface RedisStore extends IdempotencyStore {
  /**
   * The client's connection status, as ioredis reports it (`ready`, `connecting`,
   * `reconnecting`, `end`, …); `closed` once the store was closed.
   */
  readonly status: string;
  /**
   * Connection errors of a client the store opened itself (`url`): each one is reported here
   * instead of ioredis printing "Unhandled error event". A client you pass is yours to listen to.
   */
  onError(listener: (error: Error) => void): Subscription;
  /**
   * Quits the client if the store opened it (from `url`); a client you passed stays open. Either
   * way the store then refuses every operation with `StoreClosedError`. Idempotent.
   */
  close(): Promise<void>;
  /** The same as `close()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * The Redis store (ioredis; Redis ≥ 7.0, single node or Cluster). A claim — lock, and the stored
 * record when the key exists — is one `SET … NX GET` round trip; completing is one more; a replay
 * is the claim alone. Every command is bounded by `operationTimeoutMs`, so a down or slow Redis
 * fails fast with `STORE_UNAVAILABLE` instead of hanging the request.
 */
export function redisStore(options: RedisStoreOptions): RedisStore {
  return new IoRedisStore(options);
}

/** Loads ioredis when the store must open its own client (never at import: it is an optional peer). */
function loadIoredis(): typeof import('ioredis') {
  const base = typeof __filename === 'string' ? __filename : import.meta.url;
  try {
    return createRequire(base)('ioredis') as typeof import('ioredis');
  } catch {
    throw new InvalidOptionsError({
      option: 'url',
      received: undefined,
      message:
        'redisStore(): option "url" needs the ioredis package, which is not installed; run `npm install ioredis` (or pass your own client).',
    });
  }
}

/** One in-flight command, in the order sent (so deadlines are in order too). */
interface Pending {
  readonly deadline: number;
  readonly operation: string;
  settled: boolean;
  readonly reject: (error: unknown) => void;
}

/**
 * The deadlines of every in-flight command of one store, in one queue with one timer. Commands
 * are sent in order with the same timeout, so their deadlines are in order: the timer always waits
 * for the oldest unsettled command, and settled ones leave the head of the queue as they answer.
 * A command costs an entry in an array instead of a `setTimeout` of its own.
 */
class Deadlines {
  readonly #timeoutMs: number;
  readonly #unavailable: (operation: string, cause?: unknown) => Error;
  #queue: Pending[] = [];
  #head = 0;
  #armed = false;

  constructor(timeoutMs: number, unavailable: (operation: string, cause?: unknown) => Error) {
    this.#timeoutMs = timeoutMs;
    this.#unavailable = unavailable;
  }

  /**
   * `command`'s answer passed through `map` (in the same callback: no extra promise), or a
   * rejection with STORE_UNAVAILABLE when it fails or outlives its deadline.
   */
  track<T, R>(
    operation: string,
    command: Promise<T>,
    map: (value: T) => R,
    noScript?: () => Promise<T>,
  ): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      const pending: Pending = {
        deadline: Date.now() + this.#timeoutMs,
        operation,
        settled: false,
        reject,
      };
      this.#queue.push(pending);
      if (!this.#armed) this.#arm(this.#timeoutMs);
      let retry = noScript;
      const answered = (value: T) => {
        if (pending.settled) return;
        pending.settled = true;
        this.#drop();
        try {
          resolve(map(value));
        } catch (error) {
          reject(error);
        }
      };
      const failed = (error: unknown) => {
        if (pending.settled) return;
        // Redis lost the script (restart, SCRIPT FLUSH): send it once more with EVAL, within the
        // same deadline.
        if (retry !== undefined && isNoScript(error)) {
          const again = retry;
          retry = undefined;
          again().then(answered, failed);
          return;
        }
        pending.settled = true;
        this.#drop();
        reject(this.#unavailable(operation, error));
      };
      command.then(answered, failed);
    });
  }

  /** Drops the settled commands at the head of the queue. */
  #drop(): void {
    const queue = this.#queue;
    while (this.#head < queue.length && queue[this.#head]!.settled) this.#head++;
    if (this.#head === queue.length) {
      this.#queue = [];
      this.#head = 0;
    } else if (this.#head >= 1024) {
      this.#queue = queue.slice(this.#head);
      this.#head = 0;
    }
  }

  #arm(ms: number): void {
    this.#armed = true;
    // Unref'd: while a command is really in flight, ioredis's socket keeps the process alive.
    unrefTimer(setTimeout(this.#expire, ms));
  }

  readonly #expire = (): void => {
    this.#armed = false;
    const now = Date.now();
    const queue = this.#queue;
    while (this.#head < queue.length) {
      const pending = queue[this.#head]!;
      if (!pending.settled) {
        if (pending.deadline > now) break;
        pending.settled = true;
        pending.reject(this.#unavailable(pending.operation));
      }
      this.#head++;
    }
    this.#drop();
    if (this.#head < this.#queue.length)
      this.#arm(Math.max(1, this.#queue[this.#head]!.deadline - now));
  };
}

class IoRedisStore implements RedisStore, TextCompletingStore {
  readonly #client: Redis | Cluster;
  readonly #commands: CommandClient;
  readonly #owned: boolean;
  readonly #prefix: string;
  readonly #timeoutMs: number;
  readonly #deadlines: Deadlines;
  readonly #errors = new ListenerList<Error>({ error: InvalidOptionsError });
  #closed: Promise<void> | undefined;
  #corked = false;

  constructor(options: RedisStoreOptions) {
    const parsed = parse(redisStoreSchema, options, 'redisStore()');
    this.#owned = parsed.client === undefined;
    this.#timeoutMs = parsed.operationTimeoutMs;
    if (parsed.client) this.#client = parsed.client as Redis | Cluster;
    else {
      const { Redis: RedisClient } = loadIoredis();
      const client = new RedisClient(parsed.url!, { maxRetriesPerRequest: 1 });
      // Without a listener ioredis prints "[ioredis] Unhandled error event" at every failed
      // reconnect; the store reports them through onError() (and status) instead.
      client.on('error', (error: Error) => this.#errors.emit(error));
      this.#client = client;
    }
    this.#prefix = parsed.prefix;
    this.#deadlines = new Deadlines(this.#timeoutMs, (operation, cause) =>
      this.#unavailable(operation, cause),
    );
    this.#commands = this.#client as unknown as CommandClient;
  }

  get status(): string {
    return this.#closed ? 'closed' : this.#client.status;
  }

  onError(listener: (error: Error) => void): Subscription {
    return this.#errors.add(listener);
  }

  claim({ key, fingerprint, owner, lockTtlMs, signal }: ClaimInput): Promise<ClaimResult> {
    if (this.#closed) return Promise.reject(storeClosed('redisStore()', 'claim'));
    this.#cork();
    const command = this.#commands.setBuffer(
      this.#key(key),
      lockValue(fingerprint, owner),
      'PX',
      lockTtlMs,
      'NX',
      'GET',
    );
    const tracked = this.#deadlines.track('claim', command, (found) =>
      claimResult(found, fingerprint),
    );
    return signal ? raceAbort(tracked, signal, abortedBy) : tracked;
  }

  extend({ key, owner, fingerprint, lockTtlMs }: LockInput): Promise<boolean> {
    if (this.#closed) return Promise.reject(storeClosed('redisStore()', 'extend'));
    this.#cork();
    const args = [this.#key(key), lockValue(fingerprint, owner), lockTtlMs ?? this.#timeoutMs];
    return this.#script('extend', EXTEND_SCRIPT, args);
  }

  complete({ key, owner, fingerprint, payload, retentionMs }: CompleteInput): Promise<boolean> {
    if (this.#closed) return Promise.reject(storeClosed('redisStore()', 'complete'));
    this.#cork();
    const record = completedValue(fingerprint, payload);
    const args = [this.#key(key), lockValue(fingerprint, owner), record, retentionMs];
    return this.#script('complete', COMPLETE_SCRIPT, args);
  }

  /** `complete` with the payload as text (see invariant 6 above). */
  [COMPLETE_TEXT]({
    key,
    owner,
    fingerprint,
    text,
    retentionMs,
  }: CompleteTextInput): Promise<boolean> {
    if (this.#closed) return Promise.reject(storeClosed('redisStore()', 'complete'));
    this.#cork();
    const record = `C${fingerprint}\n${text}`;
    const args = [this.#key(key), lockValue(fingerprint, owner), record, retentionMs];
    return this.#script('complete', COMPLETE_SCRIPT, args);
  }

  release({ key, owner, fingerprint }: LockInput): Promise<boolean> {
    if (this.#closed) return Promise.reject(storeClosed('redisStore()', 'release'));
    this.#cork();
    return this.#script('release', RELEASE_SCRIPT, [this.#key(key), lockValue(fingerprint, owner)]);
  }

  /**
   * Runs `script` on its one key (`args[0]`) with the rest as ARGV: EVALSHA, or EVAL the first
   * time on the current connection; an EVALSHA that Redis answers NOSCRIPT is sent again as EVAL
   * (see {@link StoreScript}). Answers true when the script returned 1.
   */
  #script(
    operation: string,
    script: StoreScript,
    args: Array<string | number | Uint8Array>,
  ): Promise<boolean> {
    const commands = this.#commands;
    const stream = commands.stream;
    const byEval = () => commands.eval(script.lua, 1, ...args);
    if (stream !== undefined && !script.sent.has(stream)) {
      script.sent.add(stream);
      return this.#deadlines.track(operation, byEval(), isOne);
    }
    return this.#deadlines.track(
      operation,
      commands.evalsha(script.sha, 1, ...args),
      isOne,
      byEval,
    );
  }

  close(): Promise<void> {
    this.#closed ??= this.#owned
      ? this.#client.quit().then(
          () => undefined,
          () => this.#client.disconnect(),
        )
      : Promise.resolve();
    return this.#closed;
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

  #unavailable(operation: string, cause?: unknown): Error {
    const why =
      cause === undefined
        ? `did not answer the idempotency ${operation} within ${this.#timeoutMs} ms (operationTimeoutMs)`
        : `failed the idempotency ${operation}: ${(cause as Error)?.message ?? String(cause)}`;
    return new StoreUnavailableError(`Redis ${why}; check that Redis is up and reachable.`, {
      cause,
    });
  }
}
