import type { Source, SourceContext, SourceValues, SourceWatcher } from '../source.ts';
import { checkSourceOptions } from '../source-options.ts';
import { ConsulKv, kvValues } from './consul-kv.ts';
import { pauseUnlessAborted } from './pause.ts';

/** The part of a `consul` (node-consul) client this source uses: `new Consul({ … })` fits. */
export interface ConsulClientLike {
  readonly kv: { get(options: never): Promise<unknown> };
}

/** Options of {@link consulKV}. */
export interface ConsulKVOptions {
  /**
   * The KV prefix: `shop/config` reads the keys under `shop/config/` as paths
   * (`shop/config/db/poolMax` → `db.poolMax`), or the key `shop/config` itself as one JSON or YAML
   * document.
   */
  prefix: string;
  /** A `consul` client to use. Default: one created from `host`, `port`, `secure`. */
  client?: ConsulClientLike | undefined;
  /** Consul agent host. Default `127.0.0.1`. */
  host?: string | undefined;
  /** Consul agent port. Default `8500`. */
  port?: number | undefined;
  /** HTTPS. Default `false`. */
  secure?: boolean | undefined;
  /** ACL token, sent as `X-Consul-Token` on every request. */
  token?: string | undefined;
  /** Datacenter. Default: the agent's. */
  dc?: string | undefined;
  /** A missing prefix or an unreachable Consul at start-up is not fatal. Default `false`. */
  optional?: boolean | undefined;
  /** Watch with blocking queries. Default `true`. */
  watch?: boolean | undefined;
  /** How long one blocking query may wait for a change (Consul caps it at 10 min). Default `300000`. */
  waitMs?: number | undefined;
  /** Rate limit: the least time between the starts of two blocking queries. Default `250`. */
  minIntervalMs?: number | undefined;
  /** First back-off after a failed query; doubles per failure, with jitter. Default `1000`. */
  backoffMs?: number | undefined;
  /** Longest back-off. Default `60000`. */
  maxBackoffMs?: number | undefined;
  /** Longest the first read may take. Default `10000`. */
  timeoutMs?: number | undefined;
}

/**
 * Consul KV as a source, watched with blocking queries: a change is applied as soon as Consul
 * answers (no debounce). The query index is reset when it goes backwards (a Consul restore), queries
 * are rate-limited, and failures back off exponentially while the last good values stay in use.
 *
 * ```ts
 * import { consulKV } from '@ballast/config';
 * const central = consulKV({ prefix: 'shop/config', token: process.env.CONSUL_HTTP_TOKEN });
 * ```
 */
export function consulKV(options: ConsulKVOptions): Source {
  checkSourceOptions('consulKV()', options);
  const prefix = options.prefix.replace(/\/+$/, '');
  const kv = new ConsulKv(prefix, options);
  const position: QueryPosition = { index: 0, lastQueryAt: undefined };
  const missing = (): SourceValues => {
    if (options.optional) return { values: {} };
    throw new Error(
      `Consul has no keys under ${prefix}; write them (consul kv put ${prefix}/…) or mark the source optional: true`,
    );
  };
  return {
    name: `consul ${prefix}`,
    optional: options.optional === true,
    debounceMs: 0,
    async load(context) {
      const result = await kv.query(undefined, options.timeoutMs ?? 10_000);
      position.index = Math.max(result.index, 1);
      position.lastQueryAt = context.clock.now();
      return (await kvValues(result.items, prefix, context)) ?? missing();
    },
    ...(options.watch === false
      ? {}
      : {
          watch(context, watcher) {
            context.signal.addEventListener('abort', () => kv.cancel(), { once: true });
            void watchLoop(kv, position, options, context, watcher);
          },
        }),
    close() {
      kv.close();
    },
  };
}

/** Where the blocking queries are: Consul's index of the last answer, and when it was asked. */
interface QueryPosition {
  index: number;
  lastQueryAt: number | undefined;
}

/**
 * Watches with blocking queries until the context aborts: at most one query per
 * `minIntervalMs`; an index that goes backwards starts over without blocking; a failure backs off
 * exponentially (with jitter) while the last good values stay in use.
 */
async function watchLoop(
  kv: ConsulKv,
  position: QueryPosition,
  options: ConsulKVOptions,
  context: SourceContext,
  watcher: SourceWatcher,
): Promise<void> {
  const waitMs = options.waitMs ?? 300_000;
  const minIntervalMs = options.minIntervalMs ?? 250;
  const backoffMs = options.backoffMs ?? 1000;
  const maxBackoffMs = options.maxBackoffMs ?? 60_000;
  let failures = 0;
  while (!context.signal.aborted) {
    const { lastQueryAt } = position;
    const since = lastQueryAt === undefined ? Infinity : context.clock.now() - lastQueryAt;
    await pauseUnlessAborted(context, minIntervalMs - since);
    if (context.signal.aborted) return;
    position.lastQueryAt = context.clock.now();
    try {
      // index 0 asks without blocking (after a reset); anything else blocks until it moves.
      const result = await kv.query(
        position.index > 0 ? position.index : undefined,
        waitMs + Math.ceil(waitMs / 16) + 5000,
      );
      failures = 0;
      const previous = position.index;
      if (result.index < previous) {
        position.index = 0; // went backwards (snapshot restore, new cluster): start over without blocking
        continue;
      }
      position.index = Math.max(result.index, 1);
      if (result.index === previous) continue; // the wait ended without a change
      const values = await kvValues(result.items, kv.prefix, context);
      watcher.changed(values ?? deleted(kv.prefix, options));
    } catch (error) {
      if (context.signal.aborted) return;
      failures += 1;
      watcher.failed(error);
      const ceiling = Math.min(maxBackoffMs, backoffMs * 2 ** Math.min(failures - 1, 30));
      await pauseUnlessAborted(context, ceiling / 2 + Math.random() * (ceiling / 2));
    }
  }
}

/** The values of a watched prefix whose keys were all deleted (an error unless optional). */
function deleted(prefix: string, options: ConsulKVOptions): SourceValues {
  if (options.optional) return { values: {} };
  throw new Error(`the keys under ${prefix} were deleted; the last good values stay in use`);
}
