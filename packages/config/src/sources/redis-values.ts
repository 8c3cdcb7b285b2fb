import type { SourceContext, SourceValues } from '../source.ts';
import { setPath, type Values } from '../values.ts';
import { contentHash } from './parse.ts';

/**
 * The values of a Redis hash whose fields are dotted (or `__`-separated) paths, coerced by the
 * schema; `versionField` is the label (else a hash of the content). `undefined` for an empty
 * hash. @internal
 */
export function hashValues(
  fields: Record<string, string>,
  key: string,
  versionField: string,
  context: SourceContext,
): SourceValues | undefined {
  const names = Object.keys(fields).sort();
  if (names.length === 0) return undefined;
  const values: Values = {};
  const origins: Record<string, string> = {};
  for (const name of names) {
    if (name === versionField) continue;
    const path = context.schema.resolve(
      name.split(name.includes('__') ? '__' : '.').filter(Boolean),
    );
    setPath(values, path, context.schema.coerce(path, fields[name] as string));
    origins[path.join('.')] = `redis ${key} field ${name}`;
  }
  const label =
    fields[versionField] ?? contentHash(names.map((n) => `${n}=${fields[n]}`).join('\n'));
  return { values, origins, label };
}

/**
 * The values of a Redis string holding a JSON object; its `versionField` property is the label
 * (else a hash of the text). Throws for text that is not a JSON object. @internal
 */
export function jsonValues(text: string, key: string, versionField: string): SourceValues {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (error) {
    throw new Error(`Redis key ${key} is not valid JSON: ${(error as Error).message}`, {
      cause: error,
    });
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc))
    throw new Error(`Redis key ${key} must hold a JSON object`);
  const { [versionField]: version, ...values } = doc as Values;
  const label =
    typeof version === 'string' || typeof version === 'number'
      ? String(version)
      : contentHash(text);
  return { values, label, origins: { '': `redis ${key}` } };
}
