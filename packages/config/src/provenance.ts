import { isSecret, REDACTED } from './secret.ts';
import type { Source, SourceValues } from './source.ts';
import { getPath, isPlainObject, pathString } from './values.ts';

/** The sources in order, each with the values it last gave (later wins). @internal */
export type Layers = readonly (readonly [Source, SourceValues | undefined])[];

/** Where a value came from, as errors and `describe()` name it. @internal */
export interface Origin {
  /** The source's precise origin (`env SHOP_DB__POOL_MAX`), else the source's name. */
  readonly name: string;
  /** The source is a secret one: every value it gives is redacted. */
  readonly sensitive: boolean;
}

/**
 * The source (and its precise origin) that set `path` in the merged values, if any: the last
 * layer that holds the path, or a non-object value above it. @internal
 */
export function originOf(path: readonly PropertyKey[], from: Layers): Origin | undefined {
  for (let i = from.length - 1; i >= 0; i--) {
    const [source, values] = from[i] as readonly [Source, SourceValues | undefined];
    if (!values) continue;
    for (let k = path.length; k >= 1; k--) {
      const hit = getPath(values.values, path.slice(0, k));
      if (!hit.found || (k < path.length && isPlainObject(hit.value))) continue;
      return {
        name: preciseOrigin(path, values) ?? source.name,
        sensitive: source.sensitive === true,
      };
    }
  }
  return undefined;
}

/** The most precise origin a source recorded for `path` or one of its parents. */
function preciseOrigin(path: readonly PropertyKey[], values: SourceValues): string | undefined {
  const { origins } = values;
  if (!origins) return undefined;
  for (let j = path.length; j >= 1; j--) {
    const origin = origins[pathString(path.slice(0, j))];
    if (origin !== undefined) return origin;
  }
  return origins[''];
}

/** `value` with every `Secret` in it replaced by `'[redacted]'`. @internal */
export function redactValue(value: unknown): unknown {
  if (isSecret(value)) return REDACTED;
  if (Array.isArray(value)) return value.map(redactValue);
  if (isPlainObject(value))
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redactValue(v)]));
  return value;
}
