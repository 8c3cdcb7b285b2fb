/**
 * A bounded least-recently-used map from a token string to what verifying it produced. A `Map`
 * keeps insertion order, so re-inserting on a hit moves an entry to the young end and the first
 * key is always the eldest. @internal
 */
export class TokenCache<V> {
  readonly #max: number;
  readonly #map = new Map<string, V>();

  constructor(maxEntries: number) {
    this.#max = maxEntries;
  }

  get size(): number {
    return this.#map.size;
  }

  get(token: string): V | undefined {
    const value = this.#map.get(token);
    if (value !== undefined) {
      this.#map.delete(token);
      this.#map.set(token, value);
    }
    return value;
  }

  set(token: string, value: V): void {
    if (this.#max === 0) return;
    this.#map.delete(token);
    if (this.#map.size >= this.#max) {
      const eldest = this.#map.keys().next();
      if (!eldest.done) this.#map.delete(eldest.value);
    }
    this.#map.set(token, value);
  }

  delete(token: string): void {
    this.#map.delete(token);
  }

  clear(): void {
    this.#map.clear();
  }
}
