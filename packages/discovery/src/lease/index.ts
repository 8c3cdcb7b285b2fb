export type { DiscoveryErrorCode, DiscoveryErrors, LeaseLostReason } from '../errors.ts';
export {
  BackendUnavailableError,
  DiscoveryError,
  InvalidOptionsError,
  isDiscoveryError,
  LeaseLostError,
  LeaseTimeoutError,
} from '../errors.ts';
export type {
  LeaseAcquireResult,
  LeaseBackend,
  LeaseHolder,
  LeaseReleaseResult,
  LeaseRenewResult,
} from './backend.ts';
export type { Campaign, CampaignOptions, LeadershipChange } from './campaign.ts';
export { campaign } from './campaign.ts';
export type { ConsulLeaseBackendOptions, ConsulLeaseClient } from './consul-backend.ts';
export { consulLeaseBackend } from './consul-backend.ts';
export type { Fence, FencedSetOptions } from './fenced.ts';
export { fenced, fencedSet } from './fenced.ts';
export type { AcquireLeaseOptions, Lease } from './lease.ts';
export { acquireLease, monotonicClock } from './lease.ts';
export type { RedisLeaseBackendOptions } from './redis-backend.ts';
export { redisLeaseBackend } from './redis-backend.ts';
