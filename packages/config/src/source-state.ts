import { type Clock, unrefTimer } from '@ballast/kernel';
import type { SourceFailure } from './errors.ts';
import type { Source, SourceContext, SourceValues } from './source.ts';
import { deepEqual } from './values.ts';

/** What a configuration knows of one of its sources. @internal */
export interface SourceState {
  readonly source: Source;
  /** The values it last gave. */
  current: SourceValues | undefined;
  state: 'ok' | 'failed' | 'pending';
  /** The last failure's message. */
  error: string | undefined;
  loadedAt: number | undefined;
  watching: boolean;
  /** The debounce timer of a change waiting to be read. */
  timer: unknown;
  firstChangeAt: number | undefined;
  /** Values a watcher sent with its change, read instead of calling `load()`. */
  pendingValues: SourceValues | undefined;
}

/** A source's state before its first read. @internal */
export function sourceState(source: Source): SourceState {
  return {
    source,
    current: undefined,
    state: 'pending',
    error: undefined,
    loadedAt: undefined,
    watching: false,
    timer: undefined,
    firstChangeAt: undefined,
    pendingValues: undefined,
  };
}

/** Records values a source gave; true when they differ from the ones it gave before. @internal */
export function acceptValues(state: SourceState, next: SourceValues, now: number): boolean {
  state.state = 'ok';
  state.error = undefined;
  state.loadedAt = now;
  const unchanged =
    state.current !== undefined &&
    state.current.label === next.label &&
    deepEqual(state.current.values, next.values);
  state.current = next;
  return !unchanged;
}

/** Records that a source could not be read (its last good values stay). @internal */
export function markFailed(state: SourceState, error: unknown): void {
  state.state = 'failed';
  state.error = error instanceof Error ? error.message : String(error);
}

/**
 * Reads every source at once; records what each gave or why it failed (`onFailure`), and returns
 * the required sources that failed. @internal
 */
export async function readSources(
  states: readonly SourceState[],
  context: SourceContext,
  onFailure: (state: SourceState, error: unknown) => void,
): Promise<SourceFailure[]> {
  const results = await Promise.allSettled(states.map((s) => s.source.load(context)));
  const failures: SourceFailure[] = [];
  results.forEach((result, i) => {
    const state = states[i] as SourceState;
    if (result.status === 'fulfilled') {
      acceptValues(state, result.value, context.clock.now());
      return;
    }
    onFailure(state, result.reason);
    if (state.source.optional) return;
    const message = result.reason instanceof Error ? result.reason.message : String(result.reason);
    failures.push({ source: state.source.name, message, cause: result.reason });
  });
  return failures;
}

/**
 * Schedules the read of a source that changed: at once without `debounceMs`; else after
 * `debounceMs` of quiet, but never later than `maxWaitMs` (default 10 × `debounceMs`) after the
 * first change of a burst. The timer is housekeeping: it does not keep the process alive. @internal
 */
export function scheduleRead(state: SourceState, clock: Clock, read: () => void): void {
  const debounce = state.source.debounceMs ?? 0;
  if (debounce <= 0) {
    read();
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
    read();
  }, delay);
  unrefTimer(state.timer);
}
