import { type FSWatcher, watch } from 'node:fs';

/**
 * Watches a directory (not a file: editors and Kubernetes replace files by renaming, which ends a
 * watch on the file itself) and calls `onChange` for entries `matches` accepts. The watcher does not
 * keep the process alive and stops when `signal` aborts. A directory that does not exist is not
 * watched (returns false).
 */
export function watchDirectory(
  dir: string,
  matches: (entry: string | null) => boolean,
  onChange: () => void,
  onError: (error: unknown) => void,
  signal: AbortSignal,
): boolean {
  let watcher: FSWatcher;
  try {
    watcher = watch(dir, { persistent: false }, (_event, entry) => {
      if (matches(entry === null ? null : String(entry))) onChange();
    });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
  watcher.on('error', onError);
  signal.addEventListener('abort', () => watcher.close(), { once: true });
  return true;
}
