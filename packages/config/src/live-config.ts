import { type Clock, ListenerList, type Subscription, systemClock } from '@ballast/kernel';
import type * as z from 'zod';
import type {
  AppliedEvent,
  ApplyReason,
  Config,
  ConfigEntry,
  ConfigStatus,
  Frozen,
  HistoryEntry,
  RejectedEvent,
  SourceErrorEvent,
  SourceStatus,
} from './config.ts';
import {
  ConfigInvalidError,
  type ConfigIssue,
  ConfigNotLoadedError,
  ConfigSourceFailedError,
  InvalidOptionsError,
} from './errors.ts';
import type { ParsedConfigOptions } from './options.ts';
import { type Layers, originOf, redactValue } from './provenance.ts';
import { type SchemaInfo, schemaInfo } from './schema-info.ts';
import { isSecret, REDACTED } from './secret.ts';
import type { SourceContext, SourceWatcher } from './source.ts';
import {
  acceptValues,
  markFailed,
  readSources,
  type SourceState,
  scheduleRead,
  sourceState,
} from './source-state.ts';
import { Subscribers } from './subscribers.ts';
import { recordReload, recordSourceError } from './telemetry.ts';
import {
  changedPaths,
  deepEqual,
  deepFreeze,
  getPath,
  leaves,
  mergeValues,
  pathString,
  type Values,
} from './values.ts';

/** One applied snapshot: the data, its history entry and the source values it was built from. */
interface Snapshot {
  readonly data: unknown;
  readonly entry: HistoryEntry;
  /** The source values it was built from, for `describe()`. */
  readonly layers: Layers;
}

type Evaluation = { ok: true; data: unknown } | { ok: false; issues: ConfigIssue[] };

/**
 * The configuration `createConfig()` returns. Its state: the sources' states, the snapshot in
 * use and the history, the version, the pin of a rollback. Reloads run one after another
 * (`#serial`), so applies never interleave. @internal
 */
export class LiveConfig<T> implements Config<T> {
  readonly #schema: z.ZodType;
  readonly #info: SchemaInfo;
  readonly #schemaDefaults: Values;
  readonly #clock: Clock;
  readonly #watch: boolean;
  readonly #historySize: number;
  readonly #states: SourceState[];
  readonly #closing = new AbortController();
  readonly #context: SourceContext;
  readonly #applied = new ListenerList<AppliedEvent>({ error: InvalidOptionsError });
  readonly #rejected = new ListenerList<RejectedEvent>({ error: InvalidOptionsError });
  readonly #sourceErrors = new ListenerList<SourceErrorEvent>({ error: InvalidOptionsError });
  readonly #subscribers = new Subscribers();
  readonly #history: Snapshot[] = [];
  #snapshot: Snapshot | undefined;
  #version = 0;
  #pinned = false;
  #lastRejected: RejectedEvent | undefined;
  #queue: Promise<unknown> = Promise.resolve();
  #closed: Promise<void> | undefined;

  constructor(opts: ParsedConfigOptions) {
    this.#schema = opts.schema;
    this.#info = schemaInfo(opts.schema);
    this.#schemaDefaults = this.#info.defaults();
    this.#clock = opts.clock ?? systemClock;
    this.#watch = opts.watch;
    this.#historySize = opts.historySize;
    this.#states = opts.sources.map(sourceState);
    this.#context = { signal: this.#closing.signal, clock: this.#clock, schema: this.#info };
  }

  load(options?: { signal?: AbortSignal | undefined }): Promise<Frozen<T>> {
    this.#assertOpen('load');
    if (this.#snapshot) return this.reload(options).then(() => this.#current());
    return this.#serial(async () => {
      const failures = await this.#readAll(options?.signal);
      if (failures.length > 0) throw new ConfigSourceFailedError(failures);
      const result = this.#evaluate();
      if (!result.ok) {
        recordReload({
          outcome: 'rejected',
          reason: 'load',
          source: undefined,
          version: this.#version,
          issueCount: result.issues.length,
        });
        throw new ConfigInvalidError(result.issues);
      }
      if (!this.#snapshot) this.#apply(result.data, 'load', undefined);
      else this.#reevaluate('reload', undefined);
      if (this.#watch) await this.#startWatching();
      return this.#current();
    });
  }

  get(): Frozen<T> {
    if (this.#snapshot === undefined)
      throw new ConfigNotLoadedError(
        'config.get() was called before load() resolved; await config.load() at start-up',
      );
    return this.#current();
  }

  describe(): ConfigEntry[] {
    const snapshot = this.#snapshot;
    if (!snapshot)
      throw new ConfigNotLoadedError('config.describe() was called before load() resolved');
    return leaves(snapshot.data).map(([path, value]): ConfigEntry => {
      const origin = originOf(path, snapshot.layers);
      const hidden = origin?.sensitive === true || isSecret(value) || this.#info.isSecret(path);
      return {
        path: path.join('.'),
        value: hidden ? REDACTED : redactValue(value),
        source: origin?.name ?? 'defaults',
      };
    });
  }

  subscribe<U>(
    selector: (config: Frozen<T>) => U,
    listener: (next: U, previous: U) => void,
  ): Subscription {
    return this.#subscribers.add(selector, listener, this.#snapshot?.data);
  }

  reload(options?: { signal?: AbortSignal | undefined }): Promise<number> {
    this.#assertOpen('reload');
    return this.#serial(async () => {
      await this.#readAll(options?.signal);
      if (!this.#snapshot) {
        const result = this.#evaluate();
        if (!result.ok) throw new ConfigInvalidError(result.issues);
        this.#apply(result.data, 'load', undefined);
      } else this.#reevaluate('reload', undefined);
      return this.#version;
    });
  }

  status(): ConfigStatus {
    return {
      loaded: this.#snapshot !== undefined,
      version: this.#version,
      pinned: this.#pinned,
      lastRejected: this.#lastRejected,
      sources: this.#states.map(
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
  }

  history(): HistoryEntry[] {
    return this.#history.map((s) => s.entry);
  }

  rollback(target: number): HistoryEntry {
    const found = this.#history.find((s) => s.entry.version === target);
    if (!found) {
      const kept = this.#history.map((s) => s.entry.version);
      throw new InvalidOptionsError({
        option: 'version',
        message: `config.rollback(): version ${String(target)} is not in history (kept: ${kept.length ? `${kept[0]}–${kept.at(-1)}` : 'none'}); pick one from config.history()`,
        received: target,
      });
    }
    // The restored snapshot keeps the source labels it was built from.
    const entry = this.#apply(found.data, 'rollback', undefined, {
      restoredVersion: target,
      layers: found.layers,
      labels: found.entry.sources,
    });
    this.#pinned = true;
    return entry;
  }

  unpin(): void {
    if (!this.#pinned) return;
    this.#reevaluate('unpin', undefined);
    this.#pinned = false;
  }

  onApplied(listener: (event: AppliedEvent) => void): Subscription {
    return this.#applied.add(listener);
  }

  onRejected(listener: (event: RejectedEvent) => void): Subscription {
    return this.#rejected.add(listener);
  }

  onSourceError(listener: (event: SourceErrorEvent) => void): Subscription {
    return this.#sourceErrors.add(listener);
  }

  close(): Promise<void> {
    this.#closed ??= (async () => {
      this.#closing.abort();
      for (const s of this.#states) if (s.timer !== undefined) this.#clock.clearTimeout(s.timer);
      await Promise.allSettled(this.#states.map(async (s) => s.source.close?.()));
      for (const s of this.#states) s.watching = false;
    })();
    return this.#closed;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #current(): Frozen<T> {
    return this.#snapshot?.data as Frozen<T>;
  }

  #assertOpen(method: string): void {
    if (this.#closing.signal.aborted)
      throw new ConfigNotLoadedError(
        `config.${method}() was called after close(); create a new configuration`,
      );
  }

  /** Runs `task` after every earlier reload, so applies never interleave. */
  #serial<R>(task: () => Promise<R> | R): Promise<R> {
    const run = this.#queue.then(task);
    this.#queue = run.catch(() => {});
    return run;
  }

  #layers(): Layers {
    return this.#states.map((s) => [s.source, s.current] as const);
  }

  #labels(): Record<string, string | undefined> {
    return Object.fromEntries(this.#states.map((s) => [s.source.name, s.current?.label]));
  }

  /** Merges the sources' current values and validates them; nothing is applied here. */
  #evaluate(): Evaluation {
    // The schema's defaults are always the bottom layer, so a nested object whose fields all have
    // defaults needs no `.default({})` of its own.
    let merged: Values = this.#schemaDefaults;
    for (const s of this.#states) if (s.current) merged = mergeValues(merged, s.current.values);
    const result = this.#schema.safeParse(merged);
    if (result.success) return { ok: true, data: result.data };
    const from = this.#layers();
    const issues = result.error.issues.map((issue): ConfigIssue => {
      const path = issue.path;
      const origin = originOf(path, from);
      const raw = getPath(merged, path);
      const hidden = origin?.sensitive === true || this.#info.isSecret(path);
      return {
        path: pathString(path),
        message: issue.message,
        source: origin?.name ?? '(not set by any source)',
        value: !raw.found ? undefined : hidden ? REDACTED : redactValue(raw.value),
      };
    });
    return { ok: false, issues };
  }

  /** Swaps in `data` as a new version and tells subscribers and listeners. */
  #apply(
    data: unknown,
    reason: ApplyReason,
    trigger: string | undefined,
    restored?: { restoredVersion: number; layers: Layers; labels: HistoryEntry['sources'] },
  ): HistoryEntry {
    deepFreeze(data);
    const previous = this.#snapshot;
    this.#version += 1;
    const entry: HistoryEntry = Object.freeze({
      version: this.#version,
      appliedAt: this.#clock.now(),
      reason,
      sources: Object.freeze({ ...(restored?.labels ?? this.#labels()) }),
      ...(trigger !== undefined ? { trigger } : {}),
      changedPaths: Object.freeze(
        previous ? changedPaths(previous.data, data) : leaves(data).map(([p]) => p.join('.')),
      ),
      ...(restored !== undefined ? { restoredVersion: restored.restoredVersion } : {}),
    });
    this.#snapshot = { data, entry, layers: restored?.layers ?? this.#layers() };
    this.#history.push(this.#snapshot);
    while (this.#history.length > this.#historySize) this.#history.shift();
    this.#lastRejected = undefined;
    recordReload({
      outcome: 'applied',
      reason,
      source: trigger,
      version: this.#version,
      changedPaths: entry.changedPaths,
    });
    this.#subscribers.notify(data);
    this.#applied.emit(entry);
    return entry;
  }

  #reject(issues: ConfigIssue[], trigger: string | undefined): void {
    const error = new ConfigInvalidError(issues);
    const version = this.#version;
    const event: RejectedEvent = Object.freeze({ trigger, issues: error.issues, error, version });
    this.#lastRejected = event;
    recordReload({
      outcome: 'rejected',
      reason: 'change',
      source: trigger,
      version,
      issueCount: issues.length,
    });
    this.#rejected.emit(event);
  }

  /** Validates the sources' current values and applies them if valid and different. */
  #reevaluate(reason: ApplyReason, trigger: string | undefined): void {
    const result = this.#evaluate();
    if (!result.ok) {
      this.#reject(result.issues, trigger);
      return;
    }
    const wasPinned = this.#pinned;
    this.#pinned = false;
    const snapshot = this.#snapshot;
    if (snapshot && deepEqual(result.data, snapshot.data)) {
      // Same effective configuration: keep the version, but remember the sources' new labels.
      if (!wasPinned) this.#snapshot = { ...snapshot, layers: this.#layers() };
      return;
    }
    this.#apply(result.data, reason, trigger);
  }

  #sourceFailed(state: SourceState, error: unknown): void {
    markFailed(state, error);
    recordSourceError(state.source.name);
    this.#sourceErrors.emit({ source: state.source.name, error });
  }

  /** Reads every source; collects the required ones that failed. */
  async #readAll(signal: AbortSignal | undefined) {
    const context = signal
      ? { ...this.#context, signal: AbortSignal.any([this.#closing.signal, signal]) }
      : this.#context;
    const failures = await readSources(this.#states, context, (state, error) =>
      this.#sourceFailed(state, error),
    );
    signal?.throwIfAborted();
    return failures;
  }

  /** A watched source changed: read it (or take the values it sent) and re-evaluate. */
  #refreshSource(state: SourceState): Promise<void> {
    const closing = this.#closing.signal;
    return this.#serial(async () => {
      if (closing.aborted) return;
      let next = state.pendingValues;
      state.pendingValues = undefined;
      if (!next) {
        try {
          next = await state.source.load(this.#context);
        } catch (error) {
          if (!closing.aborted) this.#sourceFailed(state, error);
          return;
        }
      }
      if (closing.aborted) return;
      if (acceptValues(state, next, this.#clock.now()))
        this.#reevaluate('change', state.source.name);
    });
  }

  #watcherFor(state: SourceState): SourceWatcher {
    const closing = this.#closing.signal;
    return {
      changed: (next) => {
        if (closing.aborted) return;
        if (next) state.pendingValues = next;
        scheduleRead(state, this.#clock, () => void this.#refreshSource(state));
      },
      failed: (error) => {
        if (!closing.aborted) this.#sourceFailed(state, error);
      },
    };
  }

  async #startWatching(): Promise<void> {
    for (const state of this.#states) {
      const { source } = state;
      if (!source.watch || state.watching || this.#closing.signal.aborted) continue;
      state.watching = true;
      try {
        await source.watch(this.#context, this.#watcherFor(state));
      } catch (error) {
        state.watching = false;
        this.#sourceFailed(state, error);
      }
    }
  }
}
