import { hash } from 'node:crypto';

/** A canonical text of a value: JSON with object keys sorted, bytes as their SHA-256. */
function canonical(value: unknown): string {
  if (value === undefined) return 'u';
  if (value === null) return 'n';
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (typeof value === 'bigint') return `${value}n`;
  if (value instanceof Uint8Array) return `b:${hash('sha256', value, 'base64url')}`;
  if (value instanceof ArrayBuffer) return canonical(new Uint8Array(value));
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (typeof value === 'object') {
    const keys = Object.keys(value).sort();
    let out = '{';
    for (const key of keys) {
      const item = (value as Record<string, unknown>)[key];
      if (item === undefined) continue;
      out += `${JSON.stringify(key)}:${canonical(item)},`;
    }
    return `${out}}`;
  }
  return `x:${String(value)}`;
}

/**
 * A stable SHA-256 digest (base64url) of any value: bytes are hashed as bytes, objects with their
 * keys sorted, so `{a:1,b:2}` and `{b:2,a:1}` digest alike.
 */
export function digest(value: unknown): string {
  return hash('sha256', canonical(value), 'base64url');
}

/**
 * The store key of an idempotency key within a scope. The scope is length-prefixed, so no choice
 * of scope and key can collide with another pair.
 */
export function storeKeyOf(scope: string, key: string): string {
  return `${scope.length}:${scope}:${key}`;
}
