import { readFile } from 'node:fs/promises';
import type { Source, SourceContext } from '../source.ts';
import { checkSourceOptions } from '../source-options.ts';
import { setPath, type Values } from '../values.ts';
import { parseDotenv } from './dotenv.ts';

/** Options of {@link env}. */
export interface EnvOptions {
  /**
   * Only variables starting with this are read, and it is stripped: with `SHOP_`,
   * `SHOP_DB__POOL_MAX` sets `db.poolMax`. Without a prefix, only variables whose first segment names
   * a top-level key of the schema are read.
   */
  prefix?: string | undefined;
  /** What separates nesting levels in a name. Default `__` (`DB__POOL_MAX` → `db.poolMax`). */
  separator?: string | undefined;
  /**
   * A `.env` file read first, with dotenv's semantics: a variable set in the real environment always
   * wins, and the process environment is never modified. Missing is fine. Default: none.
   */
  dotenv?: string | undefined;
  /** The environment to read. Default `process.env`. */
  env?: Readonly<Record<string, string | undefined>> | undefined;
}

/**
 * Environment variables (and optionally a `.env` file), mapped onto the schema's paths and coerced
 * to its types:
 *
 * - the prefix is stripped, `__` separates levels, and each level matches a schema key ignoring
 *   case and `_`: `SHOP_DB__POOL_MAX` → `db.poolMax`, `SHOP_LOG_LEVEL` → `logLevel`;
 * - a name without `__` that spells one nested leaf also matches: `SHOP_DB_POOL_MAX` → `db.poolMax`;
 * - values become what the schema expects there: numbers, booleans (`true/false/1/0/yes/no/on/off`),
 *   lists (`a,b,c` or JSON), objects (JSON).
 *
 * ```ts
 * import { env } from '@ballast/config';
 * const variables = env({ prefix: 'SHOP_', dotenv: '.env' });
 * ```
 */
export function env(options: EnvOptions = {}): Source {
  checkSourceOptions('env()', options);
  const prefix = options.prefix ?? '';
  const separator = options.separator ?? '__';
  return {
    name: prefix ? `env ${prefix}*` : 'env',
    async load(context: SourceContext) {
      const variables: Record<string, { value: string; from: string }> = {};
      if (options.dotenv) {
        let text: string | undefined;
        try {
          text = await readFile(options.dotenv, 'utf8');
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
        }
        if (text !== undefined)
          for (const [name, value] of Object.entries(parseDotenv(text)))
            variables[name] = { value, from: `${options.dotenv} ${name}` };
      }
      const real = options.env ?? process.env;
      for (const [name, value] of Object.entries(real)) {
        if (value !== undefined) variables[name] = { value, from: `env ${name}` };
      }
      const values: Values = {};
      const origins: Record<string, string> = {};
      for (const [name, { value, from }] of Object.entries(variables)) {
        if (!name.startsWith(prefix) || name.length === prefix.length) continue;
        const rest = name.slice(prefix.length);
        let path: string[] | undefined;
        if (rest.includes(separator))
          path = context.schema.resolve(rest.split(separator).filter(Boolean));
        else path = context.schema.resolveFlat(rest) ?? context.schema.resolve([rest]);
        if (path.length === 0) continue;
        if (!prefix && context.schema.resolveFlat(path[0] as string) === undefined) continue;
        setPath(values, path, context.schema.coerce(path, value));
        origins[path.join('.')] = from;
      }
      return { values, origins };
    },
  };
}
