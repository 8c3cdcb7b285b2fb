import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Source } from '../source.ts';
import { checkSourceOptions } from '../source-options.ts';
import { setPath, type Values } from '../values.ts';
import { contentHash } from './parse.ts';
import { watchDirectory } from './watch-dir.ts';

/** Options of {@link secretsDir}. */
export interface SecretsDirOptions {
  /** A missing directory is an empty layer instead of a start-up failure. Default `false`. */
  optional?: boolean | undefined;
  /** Watch the directory (Kubernetes updates mounted secrets in place). Default `true`. */
  watch?: boolean | undefined;
  /** Quiet period after a change before reading again. Default `100`. */
  debounceMs?: number | undefined;
}

/**
 * Mounted secret files, one file per value (Kubernetes and Docker secrets): the file name is the
 * path (`db__password`, `db.password` or `DB_PASSWORD` → `db.password`), the content (one trailing
 * newline removed) is the value, coerced to the schema's type. Hidden entries (Kubernetes' `..data`)
 * are skipped. Every value from this source is redacted in `describe()`, errors and events.
 *
 * ```ts
 * import { secretsDir } from '@ballast/config';
 * const mounted = secretsDir('/run/secrets', { optional: true });
 * ```
 */
export function secretsDir(path: string, options: SecretsDirOptions = {}): Source {
  checkSourceOptions('secretsDir()', { path, ...options });
  const optional = options.optional === true;
  return {
    name: `secrets ${path}`,
    optional,
    sensitive: true,
    debounceMs: options.debounceMs ?? 100,
    async load(context) {
      let entries: string[];
      try {
        entries = (await readdir(path)).sort();
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT' && optional) return { values: {} };
        throw new Error(`cannot read secrets directory ${path}: ${(error as Error).message}`, {
          cause: error,
        });
      }
      const values: Values = {};
      const origins: Record<string, string> = {};
      const hash: string[] = [];
      for (const name of entries) {
        if (name.startsWith('.')) continue;
        const full = join(path, name);
        if (!(await stat(full)).isFile()) continue;
        const content = (await readFile(full, 'utf8')).replace(/\r?\n$/, '');
        const segments = name.includes('__')
          ? name.split('__')
          : name.includes('.')
            ? name.split('.')
            : undefined;
        const target = segments
          ? context.schema.resolve(segments.filter(Boolean))
          : (context.schema.resolveFlat(name) ?? context.schema.resolve([name]));
        setPath(values, target, context.schema.coerce(target, content));
        origins[target.join('.')] = `secret file ${full}`;
        hash.push(name, content);
      }
      return { values, origins, label: contentHash(hash.join('\0')) };
    },
    ...(options.watch === false
      ? {}
      : {
          watch(context, watcher) {
            watchDirectory(
              path,
              () => true,
              () => watcher.changed(),
              (error) => watcher.failed(error),
              context.signal,
            );
          },
        }),
  };
}
