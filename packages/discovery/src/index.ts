export type { Balancer, PickContext } from './balancer.ts';
export type { ConsulClient, ConsulHttpCheck, ConsulRegistryOptions } from './consul-registry.ts';
export { consulRegistry } from './consul-registry.ts';
export type {
  DnsAddressRecord,
  DnsRegistryOptions,
  DnsResolver,
  DnsSrvRecord,
} from './dns-registry.ts';
export { dnsRegistry } from './dns-registry.ts';
export type { Endpoint, Outcome } from './endpoint.ts';
export type { DiscoveryErrorCode, DiscoveryErrors } from './errors.ts';
export {
  DiscoveryError,
  HealthCheckTimeoutError,
  InvalidInstanceError,
  InvalidOptionsError,
  isDiscoveryError,
  NoInstanceAvailableError,
  RegistrationUnsupportedError,
  RegistryUnavailableError,
  ServiceNotFoundError,
  ShutdownStepFailedError,
} from './errors.ts';
export { leastOutstanding } from './least-outstanding.ts';
export type { OutlierEjectionOptions } from './outlier-ejection.ts';
export type { P2cPeakEwmaOptions } from './p2c-peak-ewma.ts';
export { p2cPeakEwma } from './p2c-peak-ewma.ts';
export { random } from './random.ts';
export type { RedisRegistryOptions } from './redis-registry.ts';
export { redisRegistry } from './redis-registry.ts';
export type {
  RegisterOptions,
  RegistrationState,
  RequestEmitter,
  ServiceRegistration,
} from './register.ts';
export { register } from './register.ts';
export type {
  Instance,
  InstanceInput,
  RegisteredInstance,
  Registry,
  WatchEvents,
} from './registry.ts';
export { normalizeInstance } from './registry.ts';
export type {
  EjectionEvent,
  EndpointSnapshot,
  Pick,
  PickOptions,
  Resolver,
  ResolverOptions,
  ResolverSnapshot,
  ResolverState,
  ResolverStatus,
} from './resolver.ts';
export { resolver } from './resolver.ts';
export { roundRobin } from './round-robin.ts';
export { staticRegistry } from './static-registry.ts';
export { weighted } from './weighted.ts';
