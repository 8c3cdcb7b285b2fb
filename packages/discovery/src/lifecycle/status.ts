/**
 * A health status, from best to worst:
 * - `UP`: working.
 * - `DEGRADED`: working without something it can do without (a non-critical dependency is down, a
 *   breaker on it is open). Still answers `200`: taking it out of rotation would not help.
 * - `OUT_OF_SERVICE`: deliberately not taking traffic (shutting down, not ready yet). `503`.
 * - `DOWN`: not working (a critical dependency is down, the event loop is stalled). `503`.
 */
export type HealthStatus = 'UP' | 'DEGRADED' | 'OUT_OF_SERVICE' | 'DOWN';

const RANK: Record<HealthStatus, number> = { UP: 0, DEGRADED: 1, OUT_OF_SERVICE: 2, DOWN: 3 };

/** The statuses in order, for validation. */
export const HEALTH_STATUSES: readonly HealthStatus[] = [
  'UP',
  'DEGRADED',
  'OUT_OF_SERVICE',
  'DOWN',
];

/** The worse of two statuses. */
export function worse(a: HealthStatus, b: HealthStatus): HealthStatus {
  return RANK[b] > RANK[a] ? b : a;
}

/**
 * The HTTP status code a probe answers with: `200` for `UP` and `DEGRADED`, `503` for
 * `OUT_OF_SERVICE` and `DOWN` (Spring Boot Actuator's mapping).
 */
export function httpStatusOf(status: HealthStatus): 200 | 503 {
  return RANK[status] >= RANK.OUT_OF_SERVICE ? 503 : 200;
}

/** True for one of the four status strings. */
export function isHealthStatus(value: unknown): value is HealthStatus {
  return typeof value === 'string' && Object.hasOwn(RANK, value);
}
