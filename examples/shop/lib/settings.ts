/**
 * The one configuration schema every service validates: the YAML files, env (`SHOP_CFG_*`) and the
 * live Redis document are all checked against it, so an invalid push (a wrong type, an unknown key)
 * is refused by every instance alike and each keeps its last good configuration.
 */
import type { Frozen } from '@ballast/config';
import { z } from 'zod';

const breaker = z.strictObject({
  /** Failed share of the window that opens the breaker. */
  failureRateThreshold: z.number().gt(0).max(1).default(0.5),
  /** Calls the window must hold before the rate can trip it. */
  minimumRequests: z.number().int().positive().max(100).default(10),
  /** How long the breaker stays open; also the `Retry-After` of a fast failure. */
  openMs: z.number().int().min(0).max(600_000).default(5000),
});

export const dependencySchema = z.strictObject({
  /** Per attempt, dispatch to last byte. */
  timeoutMs: z.number().int().positive().max(60_000).default(1000),
  /** Retries of replayable requests (GET/PUT/DELETE or with an Idempotency-Key). */
  retries: z.number().int().min(0).max(5).default(2),
  breaker: breaker.prefault({}),
});

export type DependencySettings = Frozen<z.infer<typeof dependencySchema>>;

export const settingsSchema = z.strictObject({
  log: z
    .strictObject({ level: z.enum(['debug', 'info', 'warn', 'error']).default('info') })
    .prefault({}),
  faults: z
    .strictObject({
      /** INSTANCE_ID → factor: the instance adds (factor − 1) × slowBaseMs to every request. */
      slow: z.record(z.string(), z.number().min(1).max(1000)).default({}),
      slowBaseMs: z.number().min(0).max(10_000).default(10),
      /** service → share of requests answered 500. */
      errorRate: z.record(z.string(), z.number().min(0).max(1)).default({}),
      /** payments answers 503 to every charge and refund. */
      paymentsOutage: z.boolean().default(false),
    })
    .prefault({}),
  /** Per dependency (service name) the caller's timeout, retries and breaker. */
  resilience: z.record(z.string(), dependencySchema).default({}),
  auth: z
    .strictObject({
      /** How often the JWKS is re-read (a removed key stops verifying within about this). */
      jwksRefreshMs: z.number().int().min(100).default(2000),
      jwksCooldownMs: z.number().int().min(0).default(500),
    })
    .prefault({}),
  /** Price in cents by SKU. */
  prices: z.record(z.string(), z.number().int().positive()).default({}),
  catalog: z
    .strictObject({
      products: z
        .array(
          z.strictObject({
            sku: z.string().min(1),
            name: z.string().min(1),
            currency: z.string().default('EUR'),
          }),
        )
        .default([]),
    })
    .prefault({}),
  inventory: z
    .strictObject({
      /** Stock seeded per SKU on first start (SETNX: never overwrites). */
      initialStock: z.number().int().min(0).default(1_000_000),
    })
    .prefault({}),
  orders: z
    .strictObject({
      maxItems: z.number().int().positive().default(20),
      expiry: z
        .strictObject({
          intervalMs: z.number().int().min(50).default(1000),
          afterMs: z.number().int().min(0).default(30_000),
          leaseTtlMs: z.number().int().min(500).default(3000),
        })
        .prefault({}),
    })
    .prefault({}),
});

/** A configuration snapshot (frozen, as `config.get()` returns it). */
export type Settings = Frozen<z.infer<typeof settingsSchema>>;

/** A dependency's settings: the configured ones, else the defaults. */
export function dependencySettings(settings: Settings, dependency: string): DependencySettings {
  return settings.resilience[dependency] ?? dependencySchema.parse({});
}
