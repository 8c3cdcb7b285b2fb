import type { Clock, Subscription } from '@ballast/kernel';
import type * as z from 'zod';
import type { ConfigInvalidError, ConfigIssue } from './errors.ts';
import { LiveConfig } from './live-config.ts';
import { parseConfigOptions } from './options.ts';
import type { Source } from './source.ts';

/** A deeply read-only view of `T`, as `config.get()` returns it (the object is frozen, too). */
export type Frozen<T> = T extends (...args: never[]) => unknown
  ? T
  : T extends { reveal(): unknown }
    ? T
    : T extends Date
      ? T
      : T extends readonly (infer E)[]
        ? readonly Frozen<E>[]
        : T extends object
          ? { readonly [K in keyof T]: Frozen<T[K]> }
          : T;

/** Options of {@link createConfig}. */
export interface ConfigOptions<S extends z.ZodType> {
  /** The zod 4 schema: it gives the type, the validation and the defaults. */
  schema: S;
  /** Sources in order, later wins; arrays (such as `profiles()`) are flattened in place. */
  sources: readonly (Source | readonly Source[])[];
  /** Start watching sources that can (files, Redis, Consul) once `load()` succeeds. Default `true`. */
  watch?: boolean | undefined;
  /** How many applied snapshots `history()` keeps for `rollback()`. Default `20`. */
  historySize?: number | undefined;
  /** Clock for debounce timers and source back-off (tests pass `ManualClock`). Default: the system clock. */
  clock?: Clock | undefined;
}

/** Why a snapshot was applied. */
export type ApplyReason = 'load' | 'change' | 'reload' | 'rollback' | 'unpin';

/** One effective value, as `describe()` lists it. */
export interface ConfigEntry {
  /** Dotted path, e.g. `db.poolMax`. */
  readonly path: string;
  /** The effective value; `'[redacted]'` for secrets and values from secret sources. */
  readonly value: unknown;
  /** Who set it: `defaults`, `file config/production.yaml`, `env SHOP_DB__POOL_MAX`, … */
  readonly source: string;
}

/** An applied snapshot, as `history()` lists it. */
export interface HistoryEntry {
  /** Monotonic version (1 for the first `load()`). */
  readonly version: number;
  /** When it was applied (clock milliseconds). */
  readonly appliedAt: number;
  /** Why it was applied. */
  readonly reason: ApplyReason;
  /** Each source's own version label at that time (file hash, Consul `ModifyIndex`, Redis version field). */
  readonly sources: Readonly<Record<string, string | undefined>>;
  /** The source whose change caused it, when one did. */
  readonly trigger?: string | undefined;
  /** Dotted paths whose value changed from the previous snapshot. */
  readonly changedPaths: readonly string[];
  /** For `reason: 'rollback'`: the version that was re-applied. */
  readonly restoredVersion?: number | undefined;
}

/** Payload of `onApplied`: a new snapshot is in use. */
export interface AppliedEvent extends HistoryEntry {}

/** Payload of `onRejected`: a change failed validation; the last good snapshot stays. */
export interface RejectedEvent {
  /** The source whose change was rejected (undefined for `unpin()`/`reload()` of several). */
  readonly trigger: string | undefined;
  /** Every issue, with path, message, source and redacted value. */
  readonly issues: readonly ConfigIssue[];
  /** The same, as the error `load()` would throw. */
  readonly error: ConfigInvalidError;
  /** The version still in use. */
  readonly version: number;
}

/** Payload of `onSourceError`: a source could not be read; its last good values stay in use. */
export interface SourceErrorEvent {
  /** The source's name. */
  readonly source: string;
  /** Why. */
  readonly error: unknown;
}

/** State of one source, as `status()` reports it. */
export interface SourceStatus {
  /** The source's name. */
  readonly name: string;
  /** `ok`; `failed` (its last good values, if any, are in use); `pending` before the first load. */
  readonly state: 'ok' | 'failed' | 'pending';
  /** Whether start-up may proceed without it. */
  readonly optional: boolean;
  /** Whether it is being watched for changes. */
  readonly watching: boolean;
  /** Its version label as last read. */
  readonly label: string | undefined;
  /** When it was last read successfully (clock milliseconds). */
  readonly loadedAt: number | undefined;
  /** The last failure's message, while `state` is `failed`. */
  readonly error: string | undefined;
}

/** What `status()` returns. */
export interface ConfigStatus {
  /** Whether `load()` has succeeded. */
  readonly loaded: boolean;
  /** Version in use (0 before `load()`). */
  readonly version: number;
  /** True after `rollback()` until the next change or `unpin()`. */
  readonly pinned: boolean;
  /** The most recent rejection, if any since the last applied change. */
  readonly lastRejected: RejectedEvent | undefined;
  /** Every source in order. */
  readonly sources: readonly SourceStatus[];
}

/** A typed, layered, hot-reloading configuration. Create with {@link createConfig}. */
export interface Config<T> {
  /**
   * Reads every source, validates, applies version 1 and starts watching. Rejects with
   * `CONFIG_SOURCE_FAILED` (every required source that failed) or `CONFIG_INVALID` (every issue at
   * once). Calling it again reloads every source, like {@link Config.reload}.
   */
  load(options?: { signal?: AbortSignal | undefined }): Promise<Frozen<T>>;
  /** The current snapshot: deep-frozen, typed; reading a value is a property access. */
  get(): Frozen<T>;
  /** Every effective value with the source that set it; secrets redacted (Spring's `/actuator/env`). */
  describe(): ConfigEntry[];
  /**
   * Calls `listener(next, previous)` after a change that alters `selector(config)`, compared
   * structurally. Returns a subscription to dispose.
   */
  subscribe<U>(
    selector: (config: Frozen<T>) => U,
    listener: (next: U, previous: U) => void,
  ): Subscription;
  /** Reads every source again now and applies the result if it is valid; resolves to the version in use. */
  reload(options?: { signal?: AbortSignal | undefined }): Promise<number>;
  /** The version in use, each source's state, and the last rejection. */
  status(): ConfigStatus;
  /** The last `historySize` applied snapshots, oldest first. */
  history(): HistoryEntry[];
  /** Re-applies the snapshot of `version` as a new version, pinned until the next change or `unpin()`. */
  rollback(version: number): HistoryEntry;
  /** Leaves a rollback: applies the sources' current values again (if valid). */
  unpin(): void;
  /** A new snapshot was applied. */
  onApplied(listener: (event: AppliedEvent) => void): Subscription;
  /** A change failed validation and was not applied. */
  onRejected(listener: (event: RejectedEvent) => void): Subscription;
  /** A source could not be read (at start-up for optional sources, or while watching). */
  onSourceError(listener: (event: SourceErrorEvent) => void): Subscription;
  /** Stops watching and closes every source. Idempotent. */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * Creates a configuration from a zod schema and sources (later wins). Call `load()` once at
 * start-up, then read `get()`.
 *
 * The parts: the configuration's state and reload cycle (`live-config.ts`), each source's state,
 * reads and debounce (`source-state.ts`), where a value came from and its redaction
 * (`provenance.ts`), the `subscribe()` subscriptions (`subscribers.ts`).
 *
 * ```ts
 * import { z } from 'zod';
 * import { createConfig, env } from '@ballast/config';
 *
 * const config = createConfig({
 *   schema: z.object({ port: z.number().int().default(3000) }),
 *   sources: [env({ prefix: 'SHOP_' })],
 * });
 * const { port } = await config.load();
 * await config.close();
 * ```
 */
export function createConfig<S extends z.ZodType>(options: ConfigOptions<S>): Config<z.output<S>> {
  return new LiveConfig<z.output<S>>(parseConfigOptions(options));
}
