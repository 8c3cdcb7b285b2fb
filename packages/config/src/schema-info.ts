import type * as z from 'zod';
import { isSecretSchema } from './secret.ts';

/** The shape of a zod 4 schema's definition, read without importing zod. */
interface Def {
  readonly type: string;
  readonly innerType?: Node;
  readonly in?: Node;
  readonly shape?: Record<string, Node>;
  readonly element?: Node;
  readonly valueType?: Node;
  readonly options?: readonly Node[];
  readonly left?: Node;
  readonly right?: Node;
  readonly values?: readonly unknown[];
  readonly entries?: Record<string, unknown>;
  readonly getter?: () => Node;
  readonly defaultValue?: unknown;
}
interface Node {
  readonly _zod: { readonly def: Def };
}

/** What kind of value a source string should become before validation. */
type Kind = 'string' | 'number' | 'bigint' | 'boolean' | 'array' | 'object' | 'unknown';

const WRAPPERS = new Set([
  'optional',
  'nullable',
  'default',
  'prefault',
  'catch',
  'readonly',
  'nonoptional',
]);

/** Strips wrappers (optional, default, lazy, the input side of a pipe) down to the schema that decides the shape. */
function unwrap(node: Node | undefined): Node | undefined {
  let current = node;
  for (let i = 0; current && i < 32; i++) {
    const def = current._zod.def;
    if (WRAPPERS.has(def.type)) current = def.innerType;
    else if (def.type === 'pipe') current = def.in;
    else if (def.type === 'lazy') current = def.getter?.();
    else return current;
  }
  return current;
}

/** Compares names the way env variables and keys are matched: case, `_`, `-` and `.` ignored. */
export function normalizeName(name: string): string {
  return name.toLowerCase().replace(/[_.-]/g, '');
}

/** `POOL_MAX` → `poolMax`, for segments that name no schema key (records, unknown keys). */
export function camelCase(segment: string): string {
  const parts = segment.toLowerCase().split(/[_-]+/).filter(Boolean);
  return parts.map((p, i) => (i === 0 ? p : p[0]?.toUpperCase() + p.slice(1))).join('') || segment;
}

const TRUE = new Set(['true', '1', 'yes', 'on', 'y']);
const FALSE = new Set(['false', '0', 'no', 'off', 'n', '']);

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

  /** The child schema under `key`, or undefined when the schema says nothing about it. */
  const child = (node: Node | undefined, key: PropertyKey): Node | undefined => {
    const n = unwrap(node);
    if (!n) return undefined;
    const def = n._zod.def;
    switch (def.type) {
      case 'object':
        return typeof key === 'string' && def.shape && Object.hasOwn(def.shape, key)
          ? def.shape[key]
          : undefined;
      case 'record':
        return def.valueType;
      case 'array':
        return def.element;
      case 'union':
        for (const option of def.options ?? []) {
          const found = child(option, key);
          if (found) return found;
        }
        return undefined;
      case 'intersection':
        return child(def.left, key) ?? child(def.right, key);
      default:
        return undefined;
    }
  };

  const keysOf = (node: Node | undefined): string[] => {
    const n = unwrap(node);
    if (!n) return [];
    const def = n._zod.def;
    if (def.type === 'object') return Object.keys(def.shape ?? {});
    if (def.type === 'union') return (def.options ?? []).flatMap(keysOf);
    if (def.type === 'intersection') return [...keysOf(def.left), ...keysOf(def.right)];
    return [];
  };

  const kindOf = (node: Node | undefined): Kind => {
    const n = unwrap(node);
    if (!n) return 'unknown';
    const def = n._zod.def;
    switch (def.type) {
      case 'number':
      case 'int':
      case 'nan':
        return 'number';
      case 'bigint':
        return 'bigint';
      case 'boolean':
        return 'boolean';
      case 'string':
      case 'enum':
      case 'date':
      case 'template_literal':
        return 'string';
      case 'array':
      case 'tuple':
      case 'set':
        return 'array';
      case 'object':
      case 'record':
      case 'map':
        return 'object';
      case 'literal': {
        const first = def.values?.[0];
        return typeof first === 'number'
          ? 'number'
          : typeof first === 'boolean'
            ? 'boolean'
            : 'string';
      }
      default:
        return 'unknown';
    }
  };

  const coerceAs = (node: Node | undefined, raw: string): unknown => {
    const kind = kindOf(node);
    const trimmed = raw.trim();
    switch (kind) {
      case 'number': {
        const n = Number(trimmed);
        return trimmed !== '' && !Number.isNaN(n) ? n : raw;
      }
      case 'bigint':
        try {
          return BigInt(trimmed);
        } catch {
          return raw;
        }
      case 'boolean': {
        const lower = trimmed.toLowerCase();
        return TRUE.has(lower) ? true : FALSE.has(lower) ? false : raw;
      }
      case 'array': {
        if (trimmed.startsWith('[')) return parseJson(raw);
        if (trimmed === '') return [];
        const element = child(node, 0);
        return trimmed.split(',').map((part) => coerceAs(element, part.trim()));
      }
      case 'object':
        return trimmed.startsWith('{') ? parseJson(raw) : raw;
      case 'unknown': {
        const n = unwrap(node);
        if (n?._zod.def.type === 'union') {
          for (const option of n._zod.def.options ?? []) {
            const k = kindOf(option);
            if (k === 'string') continue;
            const value = coerceAs(option, raw);
            if (value !== raw) return value;
          }
        }
        return raw;
      }
      default:
        return raw;
    }
  };

  const defaultsOf = (node: Node | undefined): unknown => {
    let n = node;
    for (let i = 0; n && i < 32; i++) {
      const def = n._zod.def;
      if (def.type === 'default' || def.type === 'prefault') return def.defaultValue;
      if (WRAPPERS.has(def.type)) n = def.innerType;
      else if (def.type === 'pipe') n = def.in;
      else break;
    }
    const u = unwrap(n);
    if (u?._zod.def.type !== 'object') return undefined;
    const out: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(u._zod.def.shape ?? {})) {
      const d = defaultsOf(value);
      if (d !== undefined) out[key] = d;
    }
    return Object.keys(out).length > 0 ? out : undefined;
  };

  const buildFlat = (): Map<string, string[] | null> => {
    const map = new Map<string, string[] | null>();
    const walk = (node: Node | undefined, path: string[], depth: number) => {
      for (const key of keysOf(node)) {
        const next = [...path, key];
        const id = normalizeName(next.join(''));
        map.set(id, map.has(id) ? null : next);
        if (depth < 8) walk(child(node, key), next, depth + 1);
      }
    };
    walk(root, [], 0);
    return map;
  };

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
      flat ??= buildFlat();
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

function parseJson(raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch {
    return raw;
  }
}
