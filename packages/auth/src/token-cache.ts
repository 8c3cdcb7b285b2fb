/**
 * A 30-bit fingerprint of a token: FNV-1a over its last 16 characters (the signature,
 * unpredictable for a genuine token; two characters per step), mixed so that every bit counts.
 * Hashing this tail instead of the whole token (hundreds of characters, which V8 would hash for a
 * `Map` key on every request) is what makes a cache lookup cheap. @internal
 */
export function fingerprintOf(token: string): number {
  let hash = 0x811c9dc5;
  const end = token.length;
  for (let i = Math.max(0, end - 16); i < end; i += 2) {
    const pair = token.charCodeAt(i) | ((i + 1 < end ? token.charCodeAt(i + 1) : 0) << 16);
    hash = Math.imul(hash ^ pair, 0x01000193);
  }
  hash = Math.imul(hash ^ (hash >>> 16), 0x85ebca6b);
  hash = Math.imul(hash ^ (hash >>> 13), 0xc2b2ae35);
  return (hash ^ (hash >>> 16)) >>> 2; // a small integer: V8 keeps it unboxed
}

/** A cached value, its token, and whether it was read since it last reached the eldest end. */
interface Slot<V> {
  readonly token: string;
  readonly value: V;
  visited: boolean;
}

/**
 * A bounded map from a token string to what verifying it produced, evicting with "second
 * chance" (CLOCK): a hit only sets a flag, so the hot path never reorders the map; when full, the
 * eldest entries that were read get moved to the young end with the flag cleared, and the first
 * one that was not read is evicted. A `Map` keeps insertion order, so its first key is the eldest.
 * Entries are keyed by {@link fingerprintOf} and hold their token: a lookup compares the whole
 * token, so two tokens with one fingerprint never answer for each other (the later one replaces
 * the earlier). @internal
 */
export class TokenCache<V> {
  readonly #max: number;
  readonly #map = new Map<number, Slot<V>>();

  constructor(maxEntries: number) {
    this.#max = maxEntries;
  }

  get size(): number {
    return this.#map.size;
  }

  get(token: string, fingerprint = fingerprintOf(token)): V | undefined {
    const slot = this.#map.get(fingerprint);
    if (slot === undefined || slot.token !== token) return undefined;
    slot.visited = true;
    return slot.value;
  }

  set(token: string, value: V, fingerprint = fingerprintOf(token)): void {
    if (this.#max === 0) return;
    this.#map.delete(fingerprint);
    while (this.#map.size >= this.#max) this.#evictOne();
    this.#map.set(fingerprint, { token, value, visited: false });
  }

  delete(token: string, fingerprint = fingerprintOf(token)): void {
    if (this.#map.get(fingerprint)?.token === token) this.#map.delete(fingerprint);
  }

  clear(): void {
    this.#map.clear();
  }

  #evictOne(): void {
    for (const [fingerprint, slot] of this.#map) {
      this.#map.delete(fingerprint);
      if (!slot.visited) return;
      slot.visited = false;
      this.#map.set(fingerprint, slot); // second chance: to the young end
    }
  }
}

/**
 * Decides which tokens enter the {@link TokenCache}: only those seen before, so tokens used once
 * (or a flood of distinct valid tokens) never evict the hot ones, and verifying them costs no
 * cache upkeep. It remembers each token's {@link fingerprintOf} in a fixed table — a collision
 * only admits a token early or late, never changes what is accepted. @internal
 */
export class Doorkeeper {
  readonly #table: Int32Array;
  readonly #mask: number;

  constructor(maxEntries: number) {
    let size = 1024;
    while (size < maxEntries * 2 && size < 1 << 22) size <<= 1;
    this.#table = new Int32Array(size);
    this.#mask = size - 1;
  }

  /** True when `token` was offered before; otherwise remembers it and answers false. */
  admit(token: string, fingerprint = fingerprintOf(token)): boolean {
    const mark = fingerprint | 1; // never 0, the empty slot
    const slot = (fingerprint >>> 1) & this.#mask;
    if (this.#table[slot] === mark) return true;
    this.#table[slot] = mark;
    return false;
  }
}
