import { o } from '@ballast/kernel';
import {
  type BreakerOptions,
  type ResolvedBreakerOptions,
  resolveBreakerOptions,
} from './breaker-options.ts';
import { CircuitBreaker } from './circuit-breaker.ts';
import { InvalidOptionsError, PolicyClosedError } from './errors.ts';
import { finite, invalidOption, nestedOptions, parseOptions } from './validate.ts';

/** Options of {@link createBreakerRegistry}. */
export interface BreakerRegistryOptions {
  /** Options of every breaker (validated once, shared by all keys). `name` is replaced by the key. */
  breaker?: Omit<BreakerOptions, 'name'> | undefined;
  /** Most breakers held; the least recently used one is dropped beyond it. Default 1000. */
  maxBreakers?: number | undefined;
  /** A breaker not fetched with `get()` for this long is dropped (lazily, on a later `get()`). Default 600 000 (10 min). */
  idleMs?: number | undefined;
}

const registrySchema = o.object({
  breaker: o
    .custom<Omit<BreakerOptions, 'name'>>(
      (value) => typeof value === 'object' && value !== null && !Array.isArray(value),
      'an object of circuitBreaker() options',
    )
    .optional(),
  maxBreakers: o.integer({ min: 1, max: 10_000_000 }).optional(),
  idleMs: finite({ gt: 0 }).optional(),
});

/**
 * A breaker a registry holds: it also carries the registry-relative clock time of its last
 * refreshing `get()` (a field of the breaker rather than an entry object around it, which would
 * cost ~22 bytes per key: see the `keyed-10k` benchmark). Handed out as a plain `CircuitBreaker`.
 */
class KeyedBreaker extends CircuitBreaker {
  usedAt = 0;
}

/**
 * Per-key circuit breakers (per host, per tenant, per route) built from one options object.
 * Bounded: at most `maxBreakers`, least recently used dropped first; a breaker not fetched for
 * `idleMs` is dropped too. Eviction happens inside `get()` — the registry starts no timer.
 * Recency is tracked to within `min(idleMs / 16, 1 s)`: a key fetched again sooner keeps its
 * place, and an idle breaker is dropped between `idleMs` and `idleMs` + that much after its
 * last use. A dropped breaker is closed; the next `get()` of its key builds a fresh (CLOSED) one.
 */
export class BreakerRegistry implements AsyncDisposable {
  readonly #options: ResolvedBreakerOptions;
  readonly #max: number;
  readonly #idleMs: number;
  /**
   * A key's place in the recency order is refreshed at most this often (`min(idleMs / 16, 1 s)`):
   * moving a Map entry on every `get()` costs far more than the breaker call itself.
   */
  readonly #refreshMs: number;
  /** Insertion order is recency order: `get()` moves a key to the end. */
  readonly #entries = new Map<string, KeyedBreaker>();
  /** Clock time at creation: last-use times are stored relative to it (small integers). */
  readonly #origin: number;
  #closed = false;
  /** When the least recently used breaker can first be idle: no sweep is needed before. */
  #sweepAt = Number.POSITIVE_INFINITY;

  constructor(options?: BreakerRegistryOptions) {
    const o = parseOptions(registrySchema, options, 'createBreakerRegistry()');
    if (o.breaker !== undefined && 'name' in o.breaker) {
      throw invalidOption(
        'createBreakerRegistry()',
        'breaker.name',
        (o.breaker as BreakerOptions).name,
        'is not allowed: each breaker is named by its key',
      );
    }
    // Validated once for every key; a bad option is named `breaker.<option>`.
    this.#options = nestedOptions('createBreakerRegistry()', 'breaker', () =>
      resolveBreakerOptions(o.breaker, 'createBreakerRegistry()'),
    );
    this.#max = o.maxBreakers ?? 1000;
    this.#idleMs = o.idleMs ?? 600_000;
    this.#refreshMs = Math.min(this.#idleMs / 16, 1_000);
    this.#origin = this.#options.clock.now();
  }

  /** Number of breakers held. */
  get size(): number {
    return this.#entries.size;
  }

  /** The breaker of `key`, created on first use; marks it as recently used. */
  get(key: string): CircuitBreaker {
    if (typeof key !== 'string') {
      throw new InvalidOptionsError({
        option: 'key',
        received: key,
        message: `BreakerRegistry.get(): the key must be a string (got ${typeof key}).`,
      });
    }
    if (this.#closed) throw new PolicyClosedError('breakerRegistry');
    const now = this.#options.clock.now() - this.#origin;
    const entries = this.#entries;
    let breaker = entries.get(key);
    if (breaker !== undefined) {
      if (now - breaker.usedAt >= this.#refreshMs) {
        entries.delete(key);
        entries.set(key, breaker);
        breaker.usedAt = now;
      }
    } else {
      if (entries.size >= this.#max) this.#evictOldest();
      breaker = new KeyedBreaker(this.#options as BreakerOptions, key);
      breaker.usedAt = now;
      entries.set(key, breaker);
      if (this.#sweepAt === Number.POSITIVE_INFINITY) this.#sweepAt = now + this.#idleFor;
    }
    if (now >= this.#sweepAt) this.#evictIdle(now);
    return breaker;
  }

  /** The breaker of `key` if the registry holds one; does not create, touch or evict. */
  peek(key: string): CircuitBreaker | undefined {
    return this.#entries.get(key);
  }

  /** Drops (and closes) the breaker of `key`; true if there was one. */
  delete(key: string): boolean {
    const breaker = this.#entries.get(key);
    if (breaker === undefined) return false;
    this.#entries.delete(key);
    breaker.close();
    return true;
  }

  /** Keys held, least recently used first. */
  keys(): IterableIterator<string> {
    return this.#entries.keys();
  }

  /**
   * How long after its recorded time a breaker is surely idle for `idleMs`: a breaker's time is
   * refreshed at most every `#refreshMs`, so its last use may be up to that much later.
   */
  get #idleFor(): number {
    return this.#idleMs + this.#refreshMs;
  }

  /**
   * Drops the least recently used breakers idle for `idleMs` or more (called only once the
   * oldest one may be idle, so a `get()` usually skips it).
   */
  #evictIdle(now: number): void {
    const limit = now - this.#idleFor;
    for (const [key, breaker] of this.#entries) {
      const usedAt = breaker.usedAt;
      if (usedAt > limit) {
        this.#sweepAt = usedAt + this.#idleFor; // the oldest left: nothing is idle before then
        return;
      }
      this.#entries.delete(key);
      breaker.close();
    }
    this.#sweepAt = Number.POSITIVE_INFINITY;
  }

  #evictOldest(): void {
    for (const [key, breaker] of this.#entries) {
      this.#entries.delete(key);
      breaker.close();
      return;
    }
  }

  /** Closes and drops every breaker; `get()` throws afterwards. */
  close(): void {
    this.#closed = true;
    for (const breaker of this.#entries.values()) breaker.close();
    this.#entries.clear();
  }

  /** Same as {@link close}. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.close();
  }
}

/**
 * Creates a {@link BreakerRegistry}: per-key breakers from one validated options object.
 *
 * @example
 * const breakers = createBreakerRegistry({ breaker: { failureRateThreshold: 0.5 }, maxBreakers: 500 });
 * await breakers.get(new URL(url).host).execute(({ signal }) => fetch(url, { signal }));
 */
export function createBreakerRegistry(options?: BreakerRegistryOptions): BreakerRegistry {
  return new BreakerRegistry(options);
}
