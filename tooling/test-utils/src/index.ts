export { flushMicrotasks, ManualClock } from './clock.ts';
export { freePort } from './free-port.ts';
export {
  type RawRequestOptions,
  type RawResponse,
  rawRequest,
} from './http-client.ts';
export { startHttpServer, type TestHttpServer } from './http-server.ts';
export { assertRedisInstalled, type RedisServer, startRedisServer } from './redis-server.ts';
export { type StalledPort, stalledPort } from './stalled-port.ts';
