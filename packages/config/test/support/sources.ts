import type { Source, SourceValues, SourceWatcher } from '../../src/index.ts';

/** A source the test drives: set its values, then push a change (or fail it). */
export interface ManualSource extends Source {
  values: Record<string, unknown>;
  label: string | undefined;
  failing: Error | undefined;
  loads: number;
  /** Reports a change (the config reloads after the source's debounce). */
  change(next?: SourceValues): void;
  fail(error: Error): void;
}

export function manualSource(
  name: string,
  values: Record<string, unknown> = {},
  extra: Partial<Pick<Source, 'optional' | 'debounceMs' | 'maxWaitMs' | 'sensitive'>> = {},
): ManualSource {
  let watcher: SourceWatcher | undefined;
  const source: ManualSource = {
    name,
    ...extra,
    values,
    label: undefined,
    failing: undefined,
    loads: 0,
    async load() {
      source.loads++;
      if (source.failing) throw source.failing;
      return { values: structuredClone(source.values), label: source.label };
    },
    watch(_context, w) {
      watcher = w;
    },
    change(next) {
      if (!watcher) throw new Error(`${name} is not watched`);
      watcher.changed(next);
    },
    fail(error) {
      watcher?.failed(error);
    },
  };
  return source;
}
