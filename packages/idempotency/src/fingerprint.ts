import { createRequire } from 'node:module';

type NodeCrypto = typeof import('node:crypto');
let loaded: NodeCrypto | undefined;

/**
 * `node:crypto`, loaded on first use rather than at import: it is one of the slowest built-ins to
 * load, and importing this package must stay cheap (test/install.test.ts lists what it loads).
 */
export function nodeCrypto(): NodeCrypto {
  if (loaded === undefined) {
    const base = typeof __filename === 'string' ? __filename : import.meta.url;
    loaded = createRequire(base)('node:crypto') as NodeCrypto;
  }
  return loaded;
}

const hash = (algorithm: string, data: string | Uint8Array, encoding: 'base64url') =>
  nodeCrypto().hash(algorithm, data, encoding);

/** A canonical text of a value: JSON with object keys sorted, bytes as their SHA-256. */
function canonical(value: unknown): string {
  if (value === undefined) return 'u';
  if (value === null) return 'n';
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (typeof value === 'bigint') return `${value}n`;
  if (value instanceof Uint8Array) return `b:${hash('sha256', value, 'base64url')}`;
  if (value instanceof ArrayBuffer) return canonical(new Uint8Array(value));
  if (Array.isArray(value)) {
    // The same text as `[${value.map(canonical).join(',')}]` (a hole gives ''), without the
    // intermediate array.
    let out = '[';
    for (let i = 0; i < value.length; i++) {
      if (i > 0) out += ',';
      const item: unknown = value[i];
      if (item !== undefined || i in value) out += canonical(item);
    }
    return `${out}]`;
  }
  if (typeof value === 'object') {
    const keys = Object.keys(value);
    if (keys.length > 1) keys.sort(); // a body of one field (or none) needs no sort call
    let out = '{';
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i]!;
      const item = (value as Record<string, unknown>)[key];
      if (item === undefined) continue;
      out += `${JSON.stringify(key)}:${canonical(item)},`;
    }
    return `${out}}`;
  }
  return `x:${String(value)}`;
}

/**
 * The format is part of the stored records: a retry that crosses an upgrade must digest as its
 * first request did, or it would be refused as a reuse (422). Change `canonical` only so that
 * every value keeps its text; "keeps the digests of earlier versions" (test/key.test.ts) pins them.
 *
 * A stable SHA-256 digest (base64url) of any value: bytes are hashed as bytes, objects with their
 * keys sorted, so `{a:1,b:2}` and `{b:2,a:1}` digest alike.
 */
export function digest(value: unknown): string {
  return hash('sha256', canonical(value), 'base64url');
}

/**
 * The store key of an idempotency key within a scope: `<scope length>:<scope>:<key>`, in clear
 * text (not hashed: a key is at most 255 characters). The scope is length-prefixed, so no choice
 * of scope and key can collide with another pair.
 */
export function storeKeyOf(scope: string, key: string): string {
  return `${scope.length}:${scope}:${key}`;
}
