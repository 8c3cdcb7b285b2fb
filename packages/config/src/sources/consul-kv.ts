import { EventEmitter } from 'node:events';
import type { SourceContext, SourceValues } from '../source.ts';
import { setPath, type Values } from '../values.ts';
import type { ConsulClientLike, ConsulKVOptions } from './consul.ts';
import { parseDocument } from './parse.ts';

/** One KV entry as Consul answers it. @internal */
export interface KvItem {
  readonly Key: string;
  readonly Value: string | null;
  readonly ModifyIndex: number;
}

/**
 * The KV reads of one prefix: the `consul` client (the one passed, or one created on first need,
 * which `close()` destroys), and the requests in flight, so an abort or `close()` cancels them.
 * @internal
 */
export class ConsulKv {
  readonly prefix: string;
  readonly #options: ConsulKVOptions;
  #client: ConsulClientLike | undefined;
  #owned: { destroy(): void } | undefined;
  readonly #requests = new Set<EventEmitter>();

  constructor(prefix: string, options: ConsulKVOptions) {
    this.prefix = prefix;
    this.#options = options;
    this.#client = options.client;
  }

  /** One KV read; `blockingIndex` makes it a blocking query. Returns the items and `X-Consul-Index`. */
  async query(
    blockingIndex: number | undefined,
    timeoutMs: number,
  ): Promise<{ items: KvItem[]; index: number }> {
    const kv = (await this.#consul()).kv;
    const ctx = Object.assign(new EventEmitter(), { includeResponse: true });
    this.#requests.add(ctx);
    try {
      const { token, dc } = this.#options;
      const request: Record<string, unknown> = {
        key: this.prefix,
        recurse: true,
        ctx,
        timeout: timeoutMs,
      };
      if (token) request.token = token;
      if (dc) request.dc = dc;
      if (blockingIndex !== undefined) {
        request.index = String(blockingIndex);
        request.wait = `${Math.ceil((this.#options.waitMs ?? 300_000) / 1000)}s`;
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
      this.#requests.delete(ctx);
    }
  }

  /** Cancels every request in flight. */
  cancel(): void {
    for (const ctx of this.#requests) ctx.emit('cancel');
  }

  /** Cancels every request and destroys the client this source created. */
  close(): void {
    this.cancel();
    this.#owned?.destroy();
  }

  async #consul(): Promise<ConsulClientLike> {
    if (this.#client) return this.#client;
    let Consul: new (o: object) => ConsulClientLike & { destroy(): void };
    try {
      ({ default: Consul } = (await import('consul')) as unknown as { default: typeof Consul });
    } catch (error) {
      throw new Error(
        'consulKV() needs the consul package: npm install consul (or pass { client })',
        { cause: error },
      );
    }
    const created = new Consul({
      host: this.#options.host ?? '127.0.0.1',
      port: this.#options.port ?? 8500,
      secure: this.#options.secure ?? false,
    });
    this.#owned = created;
    this.#client = created;
    return created;
  }
}

/**
 * The values of a prefix's keys: the key `prefix` itself as one JSON or YAML document, else
 * each key under `prefix/` as a path (`shop/config/db/poolMax` → `db.poolMax`), coerced by the
 * schema; `undefined` when there is none. @internal
 */
export async function kvValues(
  items: readonly KvItem[],
  prefix: string,
  context: SourceContext,
): Promise<SourceValues | undefined> {
  const document = items.find((item) => item.Key === prefix);
  if (document && document.Value !== null) {
    const text = document.Value;
    const format = text.trim().startsWith('{') ? 'json' : 'yaml';
    const values = await parseDocument(text, format, `consul key ${prefix}`);
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
}
