import type * as z from 'zod';
import { coerceAs } from './coerce.ts';
import {
  camelCase,
  child,
  type Def,
  defaultsOf,
  flatNames,
  keysOf,
  kindOf,
  type Node,
  normalizeName,
  WRAPPERS,
} from './schema-nodes.ts';
import { isSecretSchema } from './secret.ts';

export { camelCase, normalizeName } from './schema-nodes.ts';

/**
 * What sources that only have strings (env variables, secret files, Redis hash fields, Consul keys)
 * need to know about the schema: which key a name means, and what a string should be coerced to.
 */
export interface SchemaInfo {
  /**
   * Maps name segments (`['DB', 'POOL_MAX']`) to the schema's keys (`['db', 'poolMax']`), matching
   * without regard to case, `_` and `-`; a segment that names no key is camel-cased.
   */
  resolve(segments: readonly string[]): string[];
  /** Like {@link resolve} for a name without separators (`DB_POOL_MAX`); undefined unless it names exactly one leaf. */
  resolveFlat(name: string): string[] | undefined;
  /** Turns a source string into the type the schema expects at `path` (numbers, booleans, lists, JSON). */
  coerce(path: readonly string[], raw: string): unknown;
  /** True when the value at `path` (or a parent) is marked with `secret()`. */
  isSecret(path: readonly PropertyKey[]): boolean;
  /** The schema's defaults, as a nested object (for `describe()` and the `defaults()` source). */
  defaults(): Record<string, unknown>;
}

/** Reads a zod 4 schema's structure (definitions only; works with any installed copy of zod 4). */
export function schemaInfo(schema: z.ZodType): SchemaInfo {
  const root = schema as unknown as Node;
  let flat: Map<string, string[] | null> | undefined;
  return {
    resolve(segments) {
      const path: string[] = [];
      let node: Node | undefined = root;
      for (const segment of segments) {
        if (/^\d+$/.test(segment) && kindOf(node) === 'array') {
          path.push(segment);
          node = child(node, 0);
          continue;
        }
        const wanted = normalizeName(segment);
        const key = keysOf(node).find((k) => normalizeName(k) === wanted);
        if (key !== undefined) {
          path.push(key);
          node = child(node, key);
        } else {
          const name = camelCase(segment);
          path.push(name);
          node = child(node, name);
        }
      }
      return path;
    },
    resolveFlat(name) {
      flat ??= flatNames(root);
      return flat.get(normalizeName(name)) ?? undefined;
    },
    coerce(path, raw) {
      let node: Node | undefined = root;
      for (const key of path) node = child(node, /^\d+$/.test(key) ? 0 : key);
      return coerceAs(node, raw);
    },
    isSecret(path) {
      let node: Node | undefined = root;
      for (let i = 0; ; i++) {
        // every wrapper level of this node
        let n: Node | undefined = node;
        for (let j = 0; n && j < 32; j++) {
          if (isSecretSchema(n)) return true;
          const def: Def = n._zod.def;
          if (WRAPPERS.has(def.type)) n = def.innerType;
          else if (def.type === 'pipe') n = def.in;
          else if (def.type === 'lazy') n = def.getter?.();
          else break;
        }
        if (i >= path.length || !node) return false;
        const key = path[i] as PropertyKey;
        node = child(node, typeof key === 'number' ? key : key);
      }
    },
    defaults() {
      const d = defaultsOf(root);
      return typeof d === 'object' && d !== null ? (d as Record<string, unknown>) : {};
    },
  };
}
