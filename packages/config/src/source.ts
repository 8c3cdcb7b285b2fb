import type { Clock } from '@ballast/kernel';
import type { SchemaInfo } from './schema-info.ts';
import type { Values } from './values.ts';

/** What a source read: its values and, when it has one, its own version label. */
export interface SourceValues {
  /** A nested plain object (`{ db: { poolMax: 20 } }`), merged over the sources before it. */
  readonly values: Values;
  /**
   * The source's own version: a file's content hash, a Consul `ModifyIndex`, a Redis version field.
   * Shown in `history()` and `status()`; a reload whose label and values are unchanged is skipped.
   */
  readonly label?: string | undefined;
  /**
   * Where individual values came from, by dotted path (`'db.poolMax': 'env SHOP_DB__POOL_MAX'`), so
   * that errors and `describe()` name the variable, key or file to fix. Defaults to the source's name.
   */
  readonly origins?: Readonly<Record<string, string>> | undefined;
}

/** What `createConfig()` gives a source when it loads or watches. */
export interface SourceContext {
  /** Aborted when the configuration is closed: stop watching, cancel requests. */
  readonly signal: AbortSignal;
  /** The configuration's clock (for back-off and rate limits). */
  readonly clock: Clock;
  /** Maps names to schema paths and coerces strings to the schema's types. */
  readonly schema: SchemaInfo;
}

/** How a watching source reports. */
export interface SourceWatcher {
  /**
   * Something changed. Without an argument the configuration calls `load()` again, after the
   * source's `debounceMs` quiet period; with the new values (a Consul blocking query's answer) it
   * applies them at once.
   */
  changed(next?: SourceValues): void;
  /** Watching failed for now (the source keeps trying); the last good values stay in use. */
  failed(error: unknown): void;
}

/**
 * A configuration source: anything that can `load()` a nested object of values, and optionally
 * `watch()` for changes. Write your own for a store Ballast does not ship:
 *
 * ```ts fragment
 * const fromVault: Source = {
 *   name: 'vault secret/shop',
 *   async load() {
 *     const { data, version } = await vault.read('secret/shop');
 *     return { values: data, label: String(version) };
 *   },
 * };
 * ```
 */
export interface Source {
  /** Shown in `describe()`, errors, `status()` and `history()`: say what to fix, e.g. `file config/app.yaml`. */
  readonly name: string;
  /** When true, a failure at start-up is reported in `status()` instead of failing `load()`. */
  readonly optional?: boolean | undefined;
  /** Quiet period after a bare `changed()` before reloading (default 0). */
  readonly debounceMs?: number | undefined;
  /** Longest a burst of changes may postpone a reload (consul-template's `wait max`); default 10 × `debounceMs`. */
  readonly maxWaitMs?: number | undefined;
  /** True when every value of this source is sensitive (secret files): shown redacted everywhere. */
  readonly sensitive?: boolean | undefined;
  /** Reads the source once. Reject to report a failure. */
  load(context: SourceContext): Promise<SourceValues>;
  /** Starts watching; stop when `context.signal` aborts. */
  watch?(context: SourceContext, watcher: SourceWatcher): void | Promise<void>;
  /** Releases what the source holds (connections); called once by `config.close()`. */
  close?(): void | Promise<void>;
}
