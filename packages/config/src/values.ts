// Plain-object helpers: merging source values, reading paths, freezing and comparing snapshots.
import { isSecret } from './secret.ts';

/** A nested plain object of configuration values. */
export type Values = Record<string, unknown>;

const UNSAFE_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/** True for `{…}` objects (not arrays, not class instances such as `Secret` or `Date`). */
export function isPlainObject(value: unknown): value is Values {
  if (typeof value !== 'object' || value === null) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** Merges `over` into a copy of `base`: objects merge key by key, everything else (arrays too) replaces. */
export function mergeValues(base: Values, over: Values): Values {
  const out: Values = { ...base };
  for (const [key, value] of Object.entries(over)) {
    if (UNSAFE_KEYS.has(key) || value === undefined) continue;
    const current = out[key];
    out[key] =
      isPlainObject(value) && isPlainObject(current)
        ? mergeValues(current, value)
        : cloneValue(value);
  }
  return out;
}

function cloneValue(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(cloneValue);
  if (isPlainObject(value)) return mergeValues({}, value);
  return value;
}

/** Sets `value` at `path` in `target`, creating objects on the way; unsafe keys are ignored. */
export function setPath(target: Values, path: readonly string[], value: unknown): void {
  if (path.length === 0 || path.some((key) => UNSAFE_KEYS.has(key))) return;
  let node = target;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    if (isPlainObject(next)) node = next;
    else {
      const created: Values = {};
      node[key] = created;
      node = created;
    }
  }
  node[path.at(-1) as string] = value;
}

/** The value at `path`, and whether the path exists at all. */
export function getPath(
  root: unknown,
  path: readonly PropertyKey[],
): { found: boolean; value: unknown } {
  let node = root;
  for (const key of path) {
    if (typeof node !== 'object' || node === null || !Object.hasOwn(node, key))
      return { found: false, value: undefined };
    node = (node as Record<PropertyKey, unknown>)[key];
  }
  return { found: true, value: node };
}

/** Freezes `value` and everything reachable from it (plain objects and arrays). */
export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const key of Object.keys(value)) deepFreeze((value as Record<string, unknown>)[key]);
  }
  return value;
}

/** Structural equality of snapshots and selections: plain objects, arrays, dates, secrets by their value. */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (isSecret(a) || isSecret(b))
    return isSecret(a) && isSecret(b) && deepEqual(a.reveal(), b.reveal());
  if (a instanceof Date || b instanceof Date)
    return a instanceof Date && b instanceof Date && a.getTime() === b.getTime();
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a) && Array.isArray(b))
    return a.length === b.length && a.every((v, i) => deepEqual(v, b[i]));
  if (a instanceof Map || b instanceof Map || a instanceof Set || b instanceof Set) {
    if (!(a instanceof Map || a instanceof Set) || a.constructor !== b.constructor) return false;
    return deepEqual([...(a as Map<unknown, unknown>)], [...(b as Map<unknown, unknown>)]);
  }
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  return ka.every((k) => Object.hasOwn(b, k) && deepEqual((a as Values)[k], (b as Values)[k]));
}

/** Every leaf of `value` (anything that is not a plain object) with its path. */
export function leaves(
  value: unknown,
  path: string[] = [],
  out: [string[], unknown][] = [],
): [string[], unknown][] {
  if (isPlainObject(value) && Object.keys(value).length > 0) {
    for (const [key, child] of Object.entries(value)) leaves(child, [...path, key], out);
  } else if (path.length > 0) out.push([path, value]);
  return out;
}

/** Paths (dotted) whose leaf differs between two snapshots, sorted. */
export function changedPaths(before: unknown, after: unknown): string[] {
  const changed = new Set<string>();
  const walk = (a: unknown, b: unknown, path: string[]) => {
    if (isPlainObject(a) && isPlainObject(b)) {
      for (const key of new Set([...Object.keys(a), ...Object.keys(b)]))
        walk(a[key], b[key], [...path, key]);
    } else if (!deepEqual(a, b)) {
      if (isPlainObject(a) || isPlainObject(b)) {
        for (const [p] of leaves(isPlainObject(a) ? a : b, path)) changed.add(p.join('.'));
        if (!isPlainObject(a) && a !== undefined) changed.add(path.join('.'));
        if (!isPlainObject(b) && b !== undefined) changed.add(path.join('.'));
      } else changed.add(path.join('.'));
    }
  };
  walk(before, after, []);
  return [...changed].sort();
}

/** Stable dotted form of a path: `db.poolMax`, `servers.0.host`. */
export function pathString(path: readonly PropertyKey[]): string {
  return path.map(String).join('.');
}
