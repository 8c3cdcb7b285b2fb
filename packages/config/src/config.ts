import {
  type Clock,
  ListenerList,
  type Subscription,
  systemClock,
  unrefTimer,
} from '@ballast/kernel';
import type * as z from 'zod';
import {
  ConfigInvalidError,
  type ConfigIssue,
  ConfigNotLoadedError,
  ConfigSourceFailedError,
  InvalidOptionsError,
  type SourceFailure,
} from './errors.ts';
import { parseConfigOptions } from './options.ts';
import { type SchemaInfo, schemaInfo } from './schema-info.ts';
import { isSecret, REDACTED } from './secret.ts';
import type { Source, SourceContext, SourceValues, SourceWatcher } from './source.ts';
import { recordReload, recordSourceError } from './telemetry.ts';
import {
  changedPaths,
  deepEqual,
  deepFreeze,
  getPath,
  isPlainObject,
  leaves,
  mergeValues,
  pathString,
  type Values,
} from './values.ts';

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

interface SourceState {
  readonly source: Source;
  current: SourceValues | undefined;
  state: 'ok' | 'failed' | 'pending';
  error: string | undefined;
  loadedAt: number | undefined;
  watching: boolean;
  timer: unknown;
  firstChangeAt: number | undefined;
  pendingValues: SourceValues | undefined;
}

interface Snapshot {
  readonly data: unknown;
  readonly entry: HistoryEntry;
  /** The source values it was built from, for `describe()`. */
  readonly layers: readonly (readonly [Source, SourceValues | undefined])[];
}

interface Subscriber {
  readonly selector: (config: never) => unknown;
  readonly listener: (next: unknown, previous: unknown) => void;
  last: unknown;
  primed: boolean;
}

/**
 * Creates a configuration from a zod schema and sources (later wins). Call `load()` once at
 * start-up, then read `get()`.
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
  type T = z.output<S>;
  const opts = parseConfigOptions(options);
  const schema = opts.schema as unknown as z.ZodType;
  const clock = opts.clock ?? systemClock;
  const info: SchemaInfo = schemaInfo(schema);
  const schemaDefaults = info.defaults();
  const states: SourceState[] = opts.sources.map((source) => ({
    source,
    current: undefined,
    state: 'pending',
    error: undefined,
    loadedAt: undefined,
    watching: false,
    timer: undefined,
    firstChangeAt: undefined,
    pendingValues: undefined,
  }));
  const closing = new AbortController();
  const context: SourceContext = { signal: closing.signal, clock, schema: info };
  const applied = new ListenerList<AppliedEvent>({ error: InvalidOptionsError });
  const rejected = new ListenerList<RejectedEvent>({ error: InvalidOptionsError });
  const sourceErrors = new ListenerList<SourceErrorEvent>({ error: InvalidOptionsError });
  const subscribers = new Set<Subscriber>();
  const history: Snapshot[] = [];
  let snapshot: Snapshot | undefined;
  let current: Frozen<T> | undefined;
  let version = 0;
  let pinned = false;
  let lastRejected: RejectedEvent | undefined;
  let queue: Promise<unknown> = Promise.resolve();
  let closed: Promise<void> | undefined;

  /** Runs `task` after every earlier reload, so applies never interleave. */
  const serial = <R>(task: () => Promise<R> | R): Promise<R> => {
    const run = queue.then(task);
    queue = run.catch(() => {});
    return run;
  };

  type Layers = readonly (readonly [Source, SourceValues | undefined])[];
  const layers = (): Layers => states.map((s) => [s.source, s.current] as const);

  /** The source (and its precise origin) that set `path` in the merged values, if any. */
  const originOf = (
    path: readonly PropertyKey[],
    from: Layers,
  ): { name: string; sensitive: boolean } | undefined => {
    for (let i = from.length - 1; i >= 0; i--) {
      const [source, values] = from[i] as readonly [Source, SourceValues | undefined];
      if (!values) continue;
      for (let k = path.length; k >= 1; k--) {
        const prefix = path.slice(0, k);
        const hit = getPath(values.values, prefix);
        if (!hit.found || (k < path.length && isPlainObject(hit.value))) continue;
        const origins = values.origins;
        let name = origins?.[''] ?? source.name;
        if (origins) {
          for (let j = path.length; j >= 1; j--) {
            const o = origins[pathString(path.slice(0, j))];
            if (o !== undefined) {
              name = o;
              break;
            }
          }
        }
        return { name, sensitive: source.sensitive === true };
      }
    }
    return undefined;
  };

  const redactValue = (value: unknown): unknown => {
    if (isSecret(value)) return REDACTED;
    if (Array.isArray(value)) return value.map(redactValue);
    if (isPlainObject(value))
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redactValue(v)]));
    return value;
  };

  type Evaluation = { ok: true; data: unknown } | { ok: false; issues: ConfigIssue[] };

  /** Merges the sources' current values and validates them; nothing is applied here. */
  const evaluate = (): Evaluation => {
    // The schema's defaults are always the bottom layer, so a nested object whose fields all have
    // defaults needs no `.default({})` of its own.
    let merged: Values = schemaDefaults;
    for (const s of states) if (s.current) merged = mergeValues(merged, s.current.values);
    const result = schema.safeParse(merged);
    if (result.success) return { ok: true, data: result.data };
    const from = layers();
    const issues = result.error.issues.map((issue): ConfigIssue => {
      const path = issue.path;
      const origin = originOf(path, from);
      const raw = getPath(merged, path);
      const hidden = origin?.sensitive === true || info.isSecret(path);
      return {
        path: pathString(path),
        message: issue.message,
        source: origin?.name ?? '(not set by any source)',
        value: !raw.found ? undefined : hidden ? REDACTED : redactValue(raw.value),
      };
    });
    return { ok: false, issues };
  };

  const labels = (): Record<string, string | undefined> =>
    Object.fromEntries(states.map((s) => [s.source.name, s.current?.label]));

  /** Swaps in `data` as a new version and tells subscribers and listeners. */
  const apply = (
    data: unknown,
    reason: ApplyReason,
    trigger: string | undefined,
    restoredVersion?: number,
    from = layers(),
    sourceLabels: Record<string, string | undefined> = labels(),
  ): HistoryEntry => {
    deepFreeze(data);
    const previous = snapshot;
    version += 1;
    const entry: HistoryEntry = Object.freeze({
      version,
      appliedAt: clock.now(),
      reason,
      sources: Object.freeze({ ...sourceLabels }),
      ...(trigger !== undefined ? { trigger } : {}),
      changedPaths: Object.freeze(
        previous ? changedPaths(previous.data, data) : leaves(data).map(([p]) => p.join('.')),
      ),
      ...(restoredVersion !== undefined ? { restoredVersion } : {}),
    });
    snapshot = { data, entry, layers: from };
    current = data as Frozen<T>;
    history.push(snapshot);
    while (history.length > opts.historySize) history.shift();
    lastRejected = undefined;
    recordReload({
      outcome: 'applied',
      reason,
      source: trigger,
      version,
      changedPaths: entry.changedPaths,
    });
    for (const sub of subscribers) {
      let next: unknown;
      try {
        next = sub.selector(data as never);
      } catch (error) {
        queueMicrotask(() => {
          throw error;
        });
        continue;
      }
      if (!sub.primed) {
        // Subscribed before load(): the first snapshot is its starting point, not a change.
        sub.primed = true;
        sub.last = next;
        continue;
      }
      if (deepEqual(next, sub.last)) continue;
      const before = sub.last;
      sub.last = next;
      try {
        sub.listener(next, before);
      } catch (error) {
        queueMicrotask(() => {
          throw error;
        });
      }
    }
    applied.emit(entry);
    return entry;
  };

  const reject = (issues: ConfigIssue[], trigger: string | undefined): RejectedEvent => {
    const error = new ConfigInvalidError(issues);
    const event: RejectedEvent = Object.freeze({ trigger, issues: error.issues, error, version });
    lastRejected = event;
    recordReload({
      outcome: 'rejected',
      reason: 'change',
      source: trigger,
      version,
      issueCount: issues.length,
    });
    rejected.emit(event);
    return event;
  };

  /** Validates the sources' current values and applies them if valid and different. */
  const reevaluate = (reason: ApplyReason, trigger: string | undefined): void => {
    const result = evaluate();
    if (!result.ok) {
      reject(result.issues, trigger);
      return;
    }
    const wasPinned = pinned;
    pinned = false;
    if (snapshot && deepEqual(result.data, snapshot.data)) {
      // Same effective configuration: keep the version, but remember the sources' new labels.
      if (!wasPinned) snapshot = { ...snapshot, layers: layers() };
      return;
    }
    apply(result.data, reason, trigger);
  };

  const sourceFailed = (state: SourceState, error: unknown) => {
    state.state = 'failed';
    state.error = error instanceof Error ? error.message : String(error);
    recordSourceError(state.source.name);
    sourceErrors.emit({ source: state.source.name, error });
  };

  const accept = (state: SourceState, next: SourceValues) => {
    state.state = 'ok';
    state.error = undefined;
    state.loadedAt = clock.now();
    const unchanged =
      state.current !== undefined &&
      state.current.label === next.label &&
      deepEqual(state.current.values, next.values);
    state.current = next;
    return !unchanged;
  };

  /** A watched source changed: read it (or take the values it sent) and re-evaluate. */
  const refreshSource = (state: SourceState) =>
    serial(async () => {
      if (closing.signal.aborted) return;
      let next = state.pendingValues;
      state.pendingValues = undefined;
      if (!next) {
        try {
          next = await state.source.load(context);
        } catch (error) {
          if (!closing.signal.aborted) sourceFailed(state, error);
          return;
        }
      }
      if (closing.signal.aborted) return;
      if (accept(state, next)) reevaluate('change', state.source.name);
    });

  const watcherFor = (state: SourceState): SourceWatcher => ({
    changed(next) {
      if (closing.signal.aborted) return;
      if (next) state.pendingValues = next;
      const debounce = state.source.debounceMs ?? 0;
      if (debounce <= 0) {
        void refreshSource(state);
        return;
      }
      const now = clock.now();
      const first = state.firstChangeAt ?? now;
      state.firstChangeAt = first;
      const maxWait = state.source.maxWaitMs ?? debounce * 10;
      const delay = Math.max(0, Math.min(debounce, first + maxWait - now));
      if (state.timer !== undefined) clock.clearTimeout(state.timer);
      state.timer = clock.setTimeout(() => {
        state.timer = undefined;
        state.firstChangeAt = undefined;
        void refreshSource(state);
      }, delay);
      unrefTimer(state.timer);
    },
    failed(error) {
      if (!closing.signal.aborted) sourceFailed(state, error);
    },
  });

  const startWatching = async () => {
    for (const state of states) {
      const { source } = state;
      if (!source.watch || state.watching || closing.signal.aborted) continue;
      state.watching = true;
      try {
        await source.watch(context, watcherFor(state));
      } catch (error) {
        state.watching = false;
        sourceFailed(state, error);
      }
    }
  };

  /** Reads every source; collects the required ones that failed. */
  const readAll = async (signal: AbortSignal | undefined): Promise<SourceFailure[]> => {
    const loadContext = signal
      ? { ...context, signal: AbortSignal.any([closing.signal, signal]) }
      : context;
    const results = await Promise.allSettled(states.map((s) => s.source.load(loadContext)));
    const failures: SourceFailure[] = [];
    results.forEach((result, i) => {
      const state = states[i] as SourceState;
      if (result.status === 'fulfilled') accept(state, result.value);
      else {
        sourceFailed(state, result.reason);
        if (!state.source.optional) {
          failures.push({
            source: state.source.name,
            message: result.reason instanceof Error ? result.reason.message : String(result.reason),
            cause: result.reason,
          });
        }
      }
    });
    signal?.throwIfAborted();
    return failures;
  };

  const assertOpen = (method: string) => {
    if (closing.signal.aborted)
      throw new ConfigNotLoadedError(
        `config.${method}() was called after close(); create a new configuration`,
      );
  };

  const config: Config<T> = {
    load(loadOptions) {
      assertOpen('load');
      if (snapshot) return config.reload(loadOptions).then(() => current as Frozen<T>);
      return serial(async () => {
        const failures = await readAll(loadOptions?.signal);
        if (failures.length > 0) throw new ConfigSourceFailedError(failures);
        const result = evaluate();
        if (!result.ok) {
          recordReload({
            outcome: 'rejected',
            reason: 'load',
            source: undefined,
            version,
            issueCount: result.issues.length,
          });
          throw new ConfigInvalidError(result.issues);
        }
        if (!snapshot) apply(result.data, 'load', undefined);
        else reevaluate('reload', undefined);
        if (opts.watch) await startWatching();
        return current as Frozen<T>;
      });
    },
    get() {
      if (current === undefined)
        throw new ConfigNotLoadedError(
          'config.get() was called before load() resolved; await config.load() at start-up',
        );
      return current;
    },
    describe() {
      if (!snapshot)
        throw new ConfigNotLoadedError('config.describe() was called before load() resolved');
      const from = snapshot.layers;
      return leaves(snapshot.data).map(([path, value]): ConfigEntry => {
        const origin = originOf(path, from);
        const hidden = origin?.sensitive === true || isSecret(value) || info.isSecret(path);
        return {
          path: path.join('.'),
          value: hidden ? REDACTED : redactValue(value),
          source: origin?.name ?? 'defaults',
        };
      });
    },
    subscribe(selector, listener) {
      for (const [option, value] of [
        ['selector', selector],
        ['listener', listener],
      ] as const) {
        if (typeof value !== 'function')
          throw new InvalidOptionsError({
            option,
            received: value,
            message: `config.subscribe(): the ${option} must be a function (got ${typeof value}).`,
          });
      }
      const sub: Subscriber = {
        selector: selector as (config: never) => unknown,
        listener: listener as (next: unknown, previous: unknown) => void,
        last: current === undefined ? undefined : selector(current),
        primed: current !== undefined,
      };
      subscribers.add(sub);
      const dispose = () => {
        subscribers.delete(sub);
      };
      return { dispose, [Symbol.dispose]: dispose };
    },
    reload(reloadOptions) {
      assertOpen('reload');
      return serial(async () => {
        await readAll(reloadOptions?.signal);
        if (!snapshot) {
          const result = evaluate();
          if (!result.ok) throw new ConfigInvalidError(result.issues);
          apply(result.data, 'load', undefined);
        } else reevaluate('reload', undefined);
        return version;
      });
    },
    status() {
      return {
        loaded: snapshot !== undefined,
        version,
        pinned,
        lastRejected,
        sources: states.map(
          (s): SourceStatus => ({
            name: s.source.name,
            state: s.state,
            optional: s.source.optional === true,
            watching: s.watching,
            label: s.current?.label,
            loadedAt: s.loadedAt,
            error: s.state === 'failed' ? s.error : undefined,
          }),
        ),
      };
    },
    history() {
      return history.map((s) => s.entry);
    },
    rollback(target) {
      const found = history.find((s) => s.entry.version === target);
      if (!found) {
        const kept = history.map((s) => s.entry.version);
        throw new InvalidOptionsError({
          option: 'version',
          message: `config.rollback(): version ${String(target)} is not in history (kept: ${kept.length ? `${kept[0]}–${kept.at(-1)}` : 'none'}); pick one from config.history()`,
          received: target,
        });
      }
      // The restored snapshot keeps the source labels it was built from.
      const entry = apply(
        found.data,
        'rollback',
        undefined,
        target,
        found.layers,
        found.entry.sources,
      );
      pinned = true;
      return entry;
    },
    unpin() {
      if (!pinned) return;
      reevaluate('unpin', undefined);
      pinned = false;
    },
    onApplied: (listener) => applied.add(listener),
    onRejected: (listener) => rejected.add(listener),
    onSourceError: (listener) => sourceErrors.add(listener),
    close() {
      closed ??= (async () => {
        closing.abort();
        for (const s of states) if (s.timer !== undefined) clock.clearTimeout(s.timer);
        await Promise.allSettled(states.map(async (s) => s.source.close?.()));
        for (const s of states) s.watching = false;
      })();
      return closed;
    },
    [Symbol.asyncDispose]() {
      return config.close();
    },
  };
  return config;
}
