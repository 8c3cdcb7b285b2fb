/**
 * Reading a zod 4 schema's definitions without importing zod (any installed copy of zod 4): the
 * child under a key, the keys, the kind of value, the defaults, the names of every path. @internal
 */

/** The shape of a zod 4 schema's definition, read without importing zod. */
export interface Def {
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
export interface Node {
  readonly _zod: { readonly def: Def };
}

/** What kind of value a source string should become before validation. */
export type Kind = 'string' | 'number' | 'bigint' | 'boolean' | 'array' | 'object' | 'unknown';

export const WRAPPERS = new Set([
  'optional',
  'nullable',
  'default',
  'prefault',
  'catch',
  'readonly',
  'nonoptional',
]);

/** Strips wrappers (optional, default, lazy, the input side of a pipe) down to the schema that decides the shape. */
export function unwrap(node: Node | undefined): Node | undefined {
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

/** The child schema under `key`, or undefined when the schema says nothing about it. */
export function child(node: Node | undefined, key: PropertyKey): Node | undefined {
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
}

export function keysOf(node: Node | undefined): string[] {
  const n = unwrap(node);
  if (!n) return [];
  const def = n._zod.def;
  if (def.type === 'object') return Object.keys(def.shape ?? {});
  if (def.type === 'union') return (def.options ?? []).flatMap(keysOf);
  if (def.type === 'intersection') return [...keysOf(def.left), ...keysOf(def.right)];
  return [];
}

export function kindOf(node: Node | undefined): Kind {
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
}

export function defaultsOf(node: Node | undefined): unknown {
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
}

/** Every path of the schema by its normalised name (`null` when two paths share one). */
export function flatNames(root: Node): Map<string, string[] | null> {
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
}
