import { child, kindOf, type Node, unwrap } from './schema-nodes.ts';

const TRUE = new Set(['true', '1', 'yes', 'on', 'y']);
const FALSE = new Set(['false', '0', 'no', 'off', 'n', '']);

/**
 * What a source's string becomes before validation, by the kind of value the schema wants there:
 * a number, a bigint, a boolean (`true`/`1`/`yes`/`on`, …), an array (JSON or comma-separated),
 * an object (JSON); anything else stays the string. @internal
 */
export function coerceAs(node: Node | undefined, raw: string): unknown {
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
}

function parseJson(raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch {
    return raw;
  }
}
