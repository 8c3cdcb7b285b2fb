import { readFileSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import type { Source } from '../source.ts';
import { checkSourceOptions } from '../source-options.ts';
import { contentHash, formatOf, parseDocument } from './parse.ts';
import { watchDirectory } from './watch-dir.ts';

/** Options of {@link file}. */
export interface FileOptions {
  /** A missing file is an empty layer instead of a start-up failure. Default `false`. */
  optional?: boolean | undefined;
  /** `json` or `yaml`; default from the extension (`.json`, `.yaml`, `.yml`), else YAML (JSON is valid YAML). */
  format?: 'json' | 'yaml' | undefined;
  /** Watch the file's directory and reload on change. Default `true` (when the config watches). */
  watch?: boolean | undefined;
  /**
   * Quiet period after the last write before the file is read again, so a file written in parts is
   * never read half-written (consul-template's `wait min`). Default `100`.
   */
  debounceMs?: number | undefined;
  /** Longest a stream of writes may postpone a reload (consul-template's `wait max`). Default `1000`. */
  maxWaitMs?: number | undefined;
}

/** @internal The first of `paths` that exists is read (used by `profiles()` for its extensions). */
export function fileSource(paths: readonly string[], options: FileOptions, label: string): Source {
  const absolute = paths.map((p) => resolve(p));
  const names = new Set(absolute.map((p) => basename(p)));
  const dirs = [...new Set(absolute.map((p) => dirname(p)))];
  const optional = options.optional === true;
  return {
    name: `file ${label}`,
    optional,
    debounceMs: options.debounceMs ?? 100,
    maxWaitMs: options.maxWaitMs ?? 1000,
    async load() {
      for (const [i, path] of absolute.entries()) {
        let text: string;
        try {
          // One synchronous read of a small file: four thread-pool round trips fewer than
          // fs.promises.readFile, which is what a reload's latency is made of on a busy machine.
          text = readFileSync(path, 'utf8');
        } catch (error) {
          const code = (error as NodeJS.ErrnoException).code;
          if (code === 'ENOENT' || code === 'ENOTDIR') continue;
          throw new Error(`cannot read ${paths[i]}: ${(error as Error).message}`, { cause: error });
        }
        const format = options.format ?? formatOf(path) ?? 'yaml';
        const values = await parseDocument(text, format, paths[i] as string);
        return { values, label: contentHash(text), origins: { '': `file ${paths[i]}` } };
      }
      if (optional) return { values: {} };
      throw new Error(
        `${paths.join(' or ')} not found (relative to ${process.cwd()}); create it, or pass { optional: true }`,
      );
    },
    ...(options.watch === false
      ? {}
      : {
          watch(context, watcher) {
            for (const dir of dirs) {
              watchDirectory(
                dir,
                // `null`: the platform did not say which entry; `..data`: a Kubernetes ConfigMap swap.
                (entry) => entry === null || names.has(entry) || entry.startsWith('..'),
                () => watcher.changed(),
                (error) => watcher.failed(error),
                context.signal,
              );
            }
          },
        }),
  };
}

/**
 * A JSON or YAML file. Required unless `optional`; watched (its directory, debounced) for changes.
 *
 * ```ts
 * import { file } from '@ballast/config';
 * const settings = file('config/app.yaml', { optional: true });
 * ```
 */
export function file(path: string, options: FileOptions = {}): Source {
  checkSourceOptions('file()', { path, ...options });
  return fileSource([path], options, path);
}
