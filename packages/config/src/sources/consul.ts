import { EventEmitter } from 'node:events';
import { unrefTimer } from '@ballast/kernel';
import type { Source, SourceContext, SourceValues } from '../source.ts';
import { checkSourceOptions } from '../source-options.ts';
import { setPath, type Values } from '../values.ts';
import { parseDocument } from './parse.ts';

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

interface KvItem {
  readonly Key: string;
  readonly Value: string | null;
  readonly ModifyIndex: number;
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
  const waitMs = options.waitMs ?? 300_000;
  const minIntervalMs = options.minIntervalMs ?? 250;
  const backoffMs = options.backoffMs ?? 1000;
  const maxBackoffMs = options.maxBackoffMs ?? 60_000;
  let client = options.client;
  let owned: { destroy(): void } | undefined;
  let index = 0;
  let lastQueryAt: number | undefined;
  const requests = new Set<EventEmitter>();

  const consul = async (): Promise<ConsulClientLike> => {
    if (client) return client;
    let Consul: new (o: object) => ConsulClientLike & { destroy(): void };
    try {
      ({ default: Consul } = (await import('consul')) as unknown as { default: typeof Consul });
    } catch (error) {
      throw new Error(
        'consulKV() needs the consul package: npm install consul (or pass { client })',
        {
          cause: error,
        },
      );
    }
    const created = new Consul({
      host: options.host ?? '127.0.0.1',
      port: options.port ?? 8500,
      secure: options.secure ?? false,
    });
    owned = created;
    client = created;
    return created;
  };

  /** One KV read; `blockingIndex` makes it a blocking query. Returns the items and `X-Consul-Index`. */
  const query = async (
    blockingIndex: number | undefined,
    timeoutMs: number,
  ): Promise<{ items: KvItem[]; index: number }> => {
    const kv = (await consul()).kv;
    const ctx = Object.assign(new EventEmitter(), { includeResponse: true });
    requests.add(ctx);
    try {
      const request: Record<string, unknown> = {
        key: prefix,
        recurse: true,
        ctx,
        timeout: timeoutMs,
      };
      if (options.token) request.token = options.token;
      if (options.dc) request.dc = options.dc;
      if (blockingIndex !== undefined) {
        request.index = String(blockingIndex);
        request.wait = `${Math.ceil(waitMs / 1000)}s`;
      }
      const [res, body] = (await kv.get(request as never)) as [
        { headers: Record<string, string | undefined> },
        KvItem[] | KvItem | undefined,
      ];
      const header = res.headers['x-consul-index'];
      const next = Number(header);
      if (header === undefined || !Number.isFinite(next))
        throw new Error(
          `Consul answered without a valid X-Consul-Index header (got ${String(header)})`,
        );
      const items = body === undefined ? [] : Array.isArray(body) ? body : [body];
      return { items, index: next };
    } finally {
      requests.delete(ctx);
    }
  };

  const toValues = async (
    items: KvItem[],
    context: SourceContext,
  ): Promise<SourceValues | undefined> => {
    const document = items.find((item) => item.Key === prefix);
    if (document && document.Value !== null) {
      const text = document.Value;
      const values = await parseDocument(
        text,
        text.trim().startsWith('{') ? 'json' : 'yaml',
        `consul key ${prefix}`,
      );
      return { values, label: String(document.ModifyIndex), origins: { '': `consul ${prefix}` } };
    }
    const values: Values = {};
    const origins: Record<string, string> = {};
    let label = 0;
    let any = false;
    for (const item of items) {
      if (!item.Key.startsWith(`${prefix}/`) || item.Value === null || item.Key.endsWith('/'))
        continue;
      const path = context.schema.resolve(
        item.Key.slice(prefix.length + 1)
          .split('/')
          .filter(Boolean),
      );
      if (path.length === 0) continue;
      setPath(values, path, context.schema.coerce(path, item.Value));
      origins[path.join('.')] = `consul ${item.Key}`;
      label = Math.max(label, item.ModifyIndex);
      any = true;
    }
    return any ? { values, origins, label: String(label) } : undefined;
  };

  const missing = (): SourceValues => {
    if (options.optional) return { values: {} };
    throw new Error(
      `Consul has no keys under ${prefix}; write them (consul kv put ${prefix}/…) or mark the source optional: true`,
    );
  };

  const pause = (context: SourceContext, ms: number) =>
    new Promise<void>((resolve) => {
      if (ms <= 0 || context.signal.aborted) return resolve();
      const done = () => {
        context.signal.removeEventListener('abort', stop);
        resolve();
      };
      const handle = context.clock.setTimeout(done, ms);
      unrefTimer(handle);
      const stop = () => {
        context.clock.clearTimeout(handle);
        resolve();
      };
      context.signal.addEventListener('abort', stop, { once: true });
    });

  const loop = async (
    context: SourceContext,
    changed: (next: SourceValues) => void,
    failed: (e: unknown) => void,
  ) => {
    let failures = 0;
    while (!context.signal.aborted) {
      const since = lastQueryAt === undefined ? Infinity : context.clock.now() - lastQueryAt;
      await pause(context, minIntervalMs - since);
      if (context.signal.aborted) return;
      lastQueryAt = context.clock.now();
      try {
        // index 0 asks without blocking (after a reset); anything else blocks until it moves.
        const result = await query(
          index > 0 ? index : undefined,
          waitMs + Math.ceil(waitMs / 16) + 5000,
        );
        failures = 0;
        const previous = index;
        if (result.index < previous) {
          index = 0; // went backwards (snapshot restore, new cluster): start over without blocking
          continue;
        }
        index = Math.max(result.index, 1);
        if (result.index === previous) continue; // the wait ended without a change
        const values = (await toValues(result.items, context)) ?? missingOnWatch();
        changed(values);
      } catch (error) {
        if (context.signal.aborted) return;
        failures += 1;
        failed(error);
        const ceiling = Math.min(maxBackoffMs, backoffMs * 2 ** Math.min(failures - 1, 30));
        await pause(context, ceiling / 2 + Math.random() * (ceiling / 2));
      }
    }
  };

  const missingOnWatch = (): SourceValues => {
    if (options.optional) return { values: {} };
    throw new Error(`the keys under ${prefix} were deleted; the last good values stay in use`);
  };

  return {
    name: `consul ${prefix}`,
    optional: options.optional === true,
    debounceMs: 0,
    async load(context) {
      const result = await query(undefined, options.timeoutMs ?? 10_000);
      index = Math.max(result.index, 1);
      lastQueryAt = context.clock.now();
      return (await toValues(result.items, context)) ?? missing();
    },
    ...(options.watch === false
      ? {}
      : {
          watch(context, watcher) {
            context.signal.addEventListener(
              'abort',
              () => {
                for (const ctx of requests) ctx.emit('cancel');
              },
              { once: true },
            );
            void loop(
              context,
              (next) => watcher.changed(next),
              (error) => watcher.failed(error),
            );
          },
        }),
    close() {
      for (const ctx of requests) ctx.emit('cancel');
      owned?.destroy();
    },
  };
}
