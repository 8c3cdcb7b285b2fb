import type { Campaign } from '../lease/campaign.ts';
import type { Lease } from '../lease/lease.ts';
import type { ServiceRegistration } from '../register.ts';
import type { Resolver } from '../resolver.ts';
import type { CheckContext, HealthIndicator, IndicatorResult } from './health.ts';
import type { HealthStatus } from './status.ts';

/** Options every built-in indicator takes. */
export interface IndicatorOptions {
  /** The component's name in `/health`. Default: the indicator's kind (`redis`, `breaker`, …). */
  name?: string | undefined;
  /**
   * Whether the service cannot work without this dependency: it then counts for `/readyz` and a
   * failure is `DOWN`. Default `false` (a failure makes `/health` `DEGRADED` only).
   */
  critical?: boolean | undefined;
  /** How long the check may take, in ms. Default: `createHealth()`'s `timeoutMs` (500). */
  timeoutMs?: number | undefined;
  /** Reuse a result for this long, in ms. Default `0`. */
  cacheMs?: number | undefined;
}

function indicator(
  kind: string,
  options: IndicatorOptions | undefined,
  check: (context: CheckContext) => Promise<IndicatorResult> | IndicatorResult,
): HealthIndicator {
  return {
    name: options?.name ?? kind,
    critical: options?.critical === true,
    timeoutMs: options?.timeoutMs,
    cacheMs: options?.cacheMs,
    check,
  };
}

/** A failure: `DOWN` for a critical dependency, `DEGRADED` for one the service can do without. */
function failed(options: IndicatorOptions | undefined): HealthStatus {
  return options?.critical === true ? 'DOWN' : 'DEGRADED';
}

/** The part of a Redis client the indicator uses (ioredis and node-redis both have it). */
export interface PingableRedis {
  /** Sends `PING`; resolves to `PONG`. */
  ping(): Promise<string>;
}

/**
 * Checks Redis with a `PING` (cut at `timeoutMs` like every check). `UP` when it answers `PONG`,
 * else `DOWN` (critical) or `DEGRADED`.
 *
 * @example
 * health.add(redisIndicator(redis, { critical: true }));
 */
export function redisIndicator(client: PingableRedis, options?: IndicatorOptions): HealthIndicator {
  return indicator('redis', options, async () => {
    try {
      const answer = await client.ping();
      return answer === 'PONG'
        ? { status: 'UP' }
        : { status: failed(options), details: { error: `PING answered ${String(answer)}` } };
    } catch (error) {
      return { status: failed(options), details: { error: messageOf(error) } };
    }
  });
}

/** The part of a circuit breaker the indicator reads (`circuitBreaker()` of `@ballast/breaker`). */
export interface BreakerLike {
  /** `CLOSED`, `OPEN`, `HALF_OPEN`, `FORCED_OPEN`, `DISABLED` or `METRICS_ONLY`. */
  readonly state: string;
}

/**
 * Reports a circuit breaker on a dependency: closed (or disabled, metrics-only) is `UP`;
 * half-open is `DEGRADED`; open or forced open is `DOWN` when the dependency is critical and
 * `DEGRADED` when not — an open breaker on a dependency the service can do without must not take
 * the instance out of rotation.
 *
 * @example
 * health.add(breakerIndicator(paymentsBreaker, { name: 'payments' }));
 */
export function breakerIndicator(
  breaker: BreakerLike,
  options?: IndicatorOptions,
): HealthIndicator {
  return indicator('breaker', options, () => {
    const state = breaker.state;
    const details = { state };
    if (state === 'OPEN' || state === 'FORCED_OPEN') return { status: failed(options), details };
    if (state === 'HALF_OPEN') return { status: 'DEGRADED', details };
    return { status: 'UP', details };
  });
}

/**
 * Reports this instance's registration (`register()`): `UP` while registered, `OUT_OF_SERVICE`
 * while draining, `DOWN` (critical) or `DEGRADED` once closed; the last heartbeat error, if any
 * since the last check, makes it `DEGRADED` and is shown in the details.
 */
export function registrationIndicator(
  registration: ServiceRegistration,
  options?: IndicatorOptions,
): HealthIndicator {
  let lastError: string | undefined;
  registration.onError((error) => {
    lastError = error.message;
  });
  return indicator('registration', options, () => {
    const details: Record<string, unknown> = {
      service: registration.instance.service,
      id: registration.instance.id,
      state: registration.state,
    };
    const error = lastError;
    lastError = undefined;
    if (error !== undefined) details.error = error;
    if (registration.state === 'closed') return { status: failed(options), details };
    if (registration.state === 'draining') return { status: 'OUT_OF_SERVICE', details };
    return { status: error === undefined ? 'UP' : 'DEGRADED', details };
  });
}

/**
 * Reports a resolver (the client side of discovery, e.g. `dispatcher.resolver('orders')`): `UP`
 * when it serves a fresh list with an available instance; `DEGRADED` when the list is stale or
 * in panic mode; `DOWN` (critical) or `DEGRADED` when no instance is available or the registry
 * never answered.
 */
export function resolverIndicator(resolver: Resolver, options?: IndicatorOptions): HealthIndicator {
  return indicator(`resolver:${resolver.service}`, options, () => {
    const status = resolver.status();
    const details: Record<string, unknown> = {
      state: status.state,
      instances: status.instances,
      available: status.available,
      staleForMs: status.staleForMs,
    };
    if (status.lastError !== undefined) details.error = status.lastError.message;
    if (status.state === 'pending' || status.available === 0)
      return { status: failed(options), details };
    if (status.staleForMs > 0 || status.panic) return { status: 'DEGRADED', details };
    return { status: 'UP', details };
  });
}

/**
 * Reports a held lease: `UP` while held (its `signal` not aborted), else `DOWN` (critical) or
 * `DEGRADED`, with the reason.
 */
export function leaseIndicator(lease: Lease, options?: IndicatorOptions): HealthIndicator {
  return indicator('lease', options, () => {
    const details: Record<string, unknown> = { key: lease.key, token: lease.token };
    if (!lease.signal.aborted) return { status: 'UP', details };
    details.error = messageOf(lease.signal.reason);
    return { status: failed(options), details };
  });
}

/**
 * Reports a leader-election campaign: `UP` while campaigning — a follower is as healthy as the
 * leader — with `leader: true|false` in the details, so `/health` shows who leads.
 */
export function campaignIndicator(campaign: Campaign, options?: IndicatorOptions): HealthIndicator {
  return indicator('leadership', options, () => ({
    status: 'UP',
    details: { id: campaign.id, leader: campaign.isLeader() },
  }));
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
