export type { ConsulClient, ConsulHttpCheck, ConsulRegistryOptions } from './consul-registry.ts';
export { consulRegistry } from './consul-registry.ts';
export type {
  DnsAddressRecord,
  DnsRegistryOptions,
  DnsResolver,
  DnsSrvRecord,
} from './dns-registry.ts';
export { dnsRegistry } from './dns-registry.ts';
export type { DiscoveryErrorCode, DiscoveryErrors } from './errors.ts';
export {
  DiscoveryError,
  InvalidInstanceError,
  InvalidOptionsError,
  isDiscoveryError,
  NoInstanceAvailableError,
  RegistrationUnsupportedError,
  RegistryUnavailableError,
  ServiceNotFoundError,
} from './errors.ts';
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
export { staticRegistry } from './static-registry.ts';
