import { InvalidOptionsError } from '../errors.ts';
import type { Source, SourceContext, SourceValues, SourceWatcher } from '../source.ts';
import { checkSourceOptions } from '../source-options.ts';
import { hashValues, jsonValues } from './redis-values.ts';

/** The parts of an ioredis client this source uses (an ioredis `Redis` or `Cluster` fits). */
export interface RedisClientLike {
  hgetall(key: string): Promise<Record<string, string>>;
  get(key: string): Promise<string | null>;
  type(key: string): Promise<string>;
  duplicate(): RedisClientLike;
  subscribe(channel: string): Promise<unknown>;
  on(event: 'message', listener: (channel: string, message: string) => void): unknown;
  on(event: 'ready', listener: () => void): unknown;
  on(event: 'error', listener: (error: Error) => void): unknown;
  disconnect(): void;
}

/** Options of {@link redisSource}. */
export interface RedisSourceOptions {
  /** The Redis key holding the configuration: a hash of dotted paths, or a JSON document. */
  key: string;
  /** An ioredis client to use (not closed by the source). Give this or `url`. */
  client?: RedisClientLike | undefined;
  /** A Redis URL; the source then creates its own ioredis clients (ioredis must be installed). */
  url?: string | undefined;
  /** `hash` (fields are dotted paths), `json` (a string holding a JSON object) or `auto` (asks Redis). Default `auto`. */
  type?: 'hash' | 'json' | 'auto' | undefined;
  /** The pub/sub channel writers publish on after a change. Default `<key>:changed`. */
  channel?: string | undefined;
  /** Hash field or document property holding the source's version label (not a config value). Default `version`. */
  versionField?: string | undefined;
  /** A missing key or an unreachable Redis at start-up is not fatal. Default `false`. */
  optional?: boolean | undefined;
  /** Subscribe to `channel` and reload on every message. Default `true`. */
  watch?: boolean | undefined;
  /** Longest one read may take before it counts as failed. Default `5000`. */
  timeoutMs?: number | undefined;
}

type RedisConstructor = new (url: string, options: object) => RedisClientLike;

async function loadIoredis(): Promise<RedisConstructor> {
  try {
    const mod = (await import('ioredis')) as unknown as { Redis?: unknown; default?: unknown };
    return (mod.Redis ?? mod.default) as RedisConstructor;
  } catch (error) {
    throw new Error(
      'redisSource({ url }) needs the ioredis package: npm install ioredis (or pass { client })',
      { cause: error },
    );
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * A Redis key as a source: a hash (`HSET shop:config db.poolMax 20 version 7`) or a JSON document
 * (`SET shop:config '{"db":{"poolMax":20},"version":7}'`). Writers publish on `<key>:changed` after
 * a change (`MULTI` … `PUBLISH` … `EXEC`); the change is applied at once, without debounce.
 *
 * ```ts
 * import { redisSource } from '@ballast/config';
 * const live = redisSource({ url: 'redis://127.0.0.1:6379', key: 'shop:config' });
 * ```
 */
export function redisSource(options: RedisSourceOptions): Source {
  checkSourceOptions('redisSource()', options);
  if (!options.client === !options.url)
    throw new InvalidOptionsError({
      option: 'client',
      received: options.client ?? options.url,
      message:
        'redisSource(): give exactly one of the options "client" (an ioredis client) and "url". See the Options table of the package README.',
    });
  const { key } = options;
  const channel = options.channel ?? `${key}:changed`;
  const versionField = options.versionField ?? 'version';
  const timeoutMs = options.timeoutMs ?? 5000;
  const owned: RedisClientLike[] = [];
  let client = options.client;
  const connect = async (): Promise<RedisClientLike> => {
    if (client) return client;
    if (!options.url) throw new Error('redisSource() needs { client } or { url }');
    const Redis = await loadIoredis();
    if (client) return client; // another read connected meanwhile
    client = new Redis(options.url, { maxRetriesPerRequest: 1, connectTimeout: timeoutMs });
    client.on('error', () => {}); // reported by the failing reads
    owned.push(client);
    return client;
  };

  const read = async (context: SourceContext): Promise<SourceValues> => {
    const redis = await connect();
    let type = options.type ?? 'auto';
    if (type === 'auto') {
      const actual = await redis.type(key);
      if (actual === 'none') return missing();
      if (actual !== 'hash' && actual !== 'string')
        throw new Error(
          `Redis key ${key} is a ${actual}; store the configuration as a hash or a JSON string`,
        );
      type = actual === 'hash' ? 'hash' : 'json';
    }
    if (type === 'hash') {
      const fields = await redis.hgetall(key);
      return hashValues(fields, key, versionField, context) ?? missing();
    }
    const text = await redis.get(key);
    return text === null ? missing() : jsonValues(text, key, versionField);
  };

  const missing = (): SourceValues => {
    if (options.optional) return { values: {} };
    throw new Error(
      `Redis key ${key} does not exist; write it (HSET or SET) or mark the source optional: true`,
    );
  };

  return {
    name: `redis ${key}`,
    optional: options.optional === true,
    debounceMs: 0,
    load(context) {
      return withTimeout(read(context), timeoutMs, `reading Redis key ${key}`);
    },
    ...(options.watch === false
      ? {}
      : {
          async watch(context, watcher) {
            const subscriber = (await connect()).duplicate();
            owned.push(subscriber);
            await watchChannel(subscriber, channel, timeoutMs, context, watcher);
          },
        }),
    close() {
      for (const c of owned.splice(0)) c.disconnect();
    },
  };
}

/**
 * Reads again on every message on `channel`, and after a reconnection (changes published
 * meanwhile were missed); a connection error is reported; the abort of the context disconnects.
 */
async function watchChannel(
  subscriber: RedisClientLike,
  channel: string,
  timeoutMs: number,
  context: SourceContext,
  watcher: SourceWatcher,
): Promise<void> {
  let ready = false;
  subscriber.on('message', (from) => {
    if (from === channel) watcher.changed();
  });
  subscriber.on('error', (error) => watcher.failed(error));
  subscriber.on('ready', () => {
    if (ready) watcher.changed();
    ready = true;
  });
  context.signal.addEventListener('abort', () => subscriber.disconnect(), { once: true });
  await withTimeout(subscriber.subscribe(channel), timeoutMs, `subscribing to ${channel}`);
}
