import { join } from 'node:path';
import type { Source } from '../source.ts';
import { checkSourceOptions } from '../source-options.ts';
import { fileSource } from './file.ts';

/** Options of {@link profiles}. */
export interface ProfilesOptions {
  /** Folder of the profile files. Default `config`. */
  dir?: string | undefined;
  /**
   * Profile name(s): `production`, or `['production', 'eu']` (applied in order). Default:
   * `NODE_ENV` split on commas, else `development`.
   */
  profile?: string | readonly string[] | undefined;
  /** Extensions tried for each file, first found wins. Default `['yaml', 'yml', 'json']`. */
  extensions?: readonly ('yaml' | 'yml' | 'json')[] | undefined;
  /** Add `local.*` and `local-<profile>.*` (developer overrides, not committed). Default `true`. */
  local?: boolean | undefined;
  /** Debounce of each file's watch; see `file()`. Default `100`. */
  debounceMs?: number | undefined;
  /** Watch the files. Default `true`. */
  watch?: boolean | undefined;
}

/**
 * node-config's file convention as optional file sources, in order: `default`, each profile,
 * `local`, `local-<profile>` — `config/default.yaml`, `config/production.yaml`, `config/local.yaml`.
 * Spread it into `sources`.
 *
 * ```ts
 * import { profiles } from '@ballast/config';
 * const files = profiles({ profile: 'production' }); // config/default.*, config/production.*, config/local.*
 * ```
 */
export function profiles(options: ProfilesOptions = {}): Source[] {
  checkSourceOptions('profiles()', options);
  const dir = options.dir ?? 'config';
  const extensions = options.extensions ?? ['yaml', 'yml', 'json'];
  const requested = options.profile ?? (process.env.NODE_ENV || 'development');
  const names = (typeof requested === 'string' ? requested.split(',') : [...requested])
    .map((p) => p.trim())
    .filter(Boolean);
  const bases = ['default', ...names];
  if (options.local !== false) bases.push('local', ...names.map((p) => `local-${p}`));
  return [...new Set(bases)].map((base) =>
    fileSource(
      extensions.map((ext) => join(dir, `${base}.${ext}`)),
      { optional: true, debounceMs: options.debounceMs, watch: options.watch },
      join(dir, `${base}.${extensions.length === 1 ? extensions[0] : `{${extensions.join(',')}}`}`),
    ),
  );
}
