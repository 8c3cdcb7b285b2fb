import { createHash, type Hash } from 'node:crypto';

function feed(hash: Hash, value: unknown): void {
  if (value === undefined || value === null) {
    hash.update(value === null ? 'n' : 'u');
  } else if (value instanceof Uint8Array) {
    hash.update(`b${value.byteLength}:`).update(value);
  } else if (value instanceof ArrayBuffer) {
    feed(hash, new Uint8Array(value));
  } else if (typeof value === 'string') {
    hash.update(`s${Buffer.byteLength(value)}:`).update(value);
  } else if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') {
    hash.update(`${(typeof value)[0]}${String(value)};`);
  } else if (Array.isArray(value)) {
    hash.update(`a${value.length}[`);
    for (const item of value) feed(hash, item);
    hash.update(']');
  } else if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    hash.update(`o${entries.length}{`);
    for (const [k, v] of entries) {
      feed(hash, k);
      feed(hash, v);
    }
    hash.update('}');
  } else {
    hash.update(`x${String(value)};`);
  }
}

/**
 * A stable SHA-256 digest (base64url) of any value: bytes are hashed as bytes, objects with their
 * keys sorted, so `{a:1,b:2}` and `{b:2,a:1}` digest alike.
 */
export function digest(value: unknown): string {
  const hash = createHash('sha256');
  feed(hash, value);
  return hash.digest('base64url');
}

/** The store key of an idempotency key within a scope (hashed, so any key and scope are safe). */
export function storeKeyOf(scope: string, key: string): string {
  return createHash('sha256').update(scope).update('\0').update(key).digest('base64url');
}
