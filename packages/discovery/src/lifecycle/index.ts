export type {
  DiscoveryErrorCode,
  DiscoveryErrors,
} from '../errors.ts';
export {
  DiscoveryError,
  HealthCheckTimeoutError,
  InvalidOptionsError,
  isDiscoveryError,
  ShutdownStepFailedError,
} from '../errors.ts';
export type {
  CheckContext,
  ComponentHealth,
  Health,
  HealthIndicator,
  HealthOptions,
  HealthReport,
  IndicatorResult,
} from './health.ts';
export { createHealth } from './health.ts';
export type { BreakerLike, IndicatorOptions, PingableRedis } from './indicators.ts';
export {
  breakerIndicator,
  campaignIndicator,
  leaseIndicator,
  redisIndicator,
  registrationIndicator,
  resolverIndicator,
} from './indicators.ts';
export type { ProbeKind, ProbesOptions } from './probes.ts';
export type { DrainableServer } from './server-drain.ts';
export type {
  GracefulShutdown,
  ShutdownHook,
  ShutdownOptions,
  ShutdownReport,
  ShutdownStep,
  ShutdownStepEvent,
} from './shutdown.ts';
export { createShutdown, DEFAULT_SHUTDOWN_ORDER } from './shutdown.ts';
export type { HealthStatus } from './status.ts';
export { httpStatusOf } from './status.ts';
