import { createRequire } from 'node:module';
import { type Clock, otel, type Subscription } from '@ballast/kernel';
import type { DiscoveryError } from './errors.ts';
import type { Instance } from './registry.ts';

// Helpers shared by the registry backends (Consul, Redis, DNS). Internal: not exported from index.ts.

/** A subscription whose `dispose()` runs `fn` once. */
export function subscription(fn: () => void): Subscription {
  let active = true;
  const dispose = (): void => {
    if (!active) return;
    active = false;
    fn();
  };
  return { dispose, [Symbol.dispose]: dispose };
}

/**
 * Loads an optional peer (`consul`, `ioredis`) synchronously, the first time a registry that needs
 * it is created; `undefined` when it is not installed. Resolves from this file in the ESM and the
 * CJS build alike.
 */
export function requirePeer(id: string): unknown {
  const base = typeof __filename === 'string' ? __filename : import.meta.url;
  try {
    return createRequire(base)(id);
  } catch (error) {
    if ((error as { code?: unknown }).code === 'MODULE_NOT_FOUND') return undefined;
    throw error;
  }
}

/** Exponential back-off: `baseMs × 2^(attempt-1)`, capped at `maxMs` (attempt counts from 1). */
export function backoffMs(attempt: number, baseMs: number, maxMs: number): number {
  return Math.min(maxMs, baseMs * 2 ** Math.min(30, Math.max(0, attempt - 1)));
}

/**
 * A token bucket on a clock: `burst` tokens, one more every `intervalMs`. `delay()` says how long to
 * wait before the next loop may run, and takes the token. Consul's blocking-query guidance: let a
 * couple of quick deliveries through, then degrade to a steady rate while results churn.
 */
export class TokenBucket {
  readonly #burst: number;
  readonly #intervalMs: number;
  readonly #clock: Clock;
  #tokens: number;
  #updatedAt: number;

  constructor(burst: number, intervalMs: number, clock: Clock) {
    this.#burst = burst;
    this.#intervalMs = intervalMs;
    this.#clock = clock;
    this.#tokens = burst;
    this.#updatedAt = clock.now();
  }

  /** Milliseconds to wait before taking a token (0 when one is there); the token is taken. */
  take(): number {
    const now = this.#clock.now();
    if (this.#intervalMs > 0) {
      this.#tokens = Math.min(
        this.#burst,
        this.#tokens + (now - this.#updatedAt) / this.#intervalMs,
      );
    } else {
      this.#tokens = this.#burst;
    }
    this.#updatedAt = now;
    this.#tokens -= 1;
    if (this.#tokens >= 0) return 0;
    return Math.ceil(-this.#tokens * this.#intervalMs);
  }
}

/** A cheap identity of a list of instances, to push a watch's list only when it changed. */
export function listSignature(instances: readonly Instance[]): string {
  return JSON.stringify(
    instances.map((i) => [
      i.id,
      i.address,
      i.port,
      i.tags,
      Object.entries(i.meta),
      i.zone ?? null,
      i.weight,
      i.healthy,
    ]),
  );
}

/** Sorted by id, so that two reads of the same instances compare equal. */
export function byId(a: Instance, b: Instance): number {
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/**
 * Counts a registry error in the `ballast.discovery.registry.errors` metric (OTel API only; a no-op
 * when no SDK is registered), with the registry kind, the service and the error code.
 */
export function countRegistryError(
  registry: string,
  service: string | undefined,
  error: DiscoveryError,
): void {
  const api = otel();
  if (api === undefined) return;
  // Errors are rare: the meter and counter are looked up each time, so an SDK registered later
  // (or replaced in tests) is the one that counts.
  const counter = api.metrics
    .getMeter('@ballast/discovery')
    .createCounter('ballast.discovery.registry.errors', {
      description: 'Errors of a service registry: unreachable, or a malformed record skipped.',
      unit: '{error}',
    });
  const attributes: Record<string, string> = {
    'ballast.discovery.registry': registry,
    'error.type': error.code,
  };
  if (service !== undefined) attributes['ballast.discovery.service'] = service;
  counter.add(1, attributes);
}

/** Milliseconds as a Go duration string, which Consul parses (`"15000ms"`). */
export function goDuration(ms: number): string {
  return `${Math.max(0, Math.round(ms))}ms`;
}
