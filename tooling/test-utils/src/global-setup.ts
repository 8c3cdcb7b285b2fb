import type { TestProject } from 'vitest/node';
import { type RedisServer, startRedisServer } from './redis-server.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** URL of the Redis the integration tests use: `REDIS_URL`, or the private server started here. */
    redisUrl: string;
  }
}

/**
 * Vitest global setup: gives every test a real Redis through `inject('redisUrl')`.
 * Uses `REDIS_URL` when set; otherwise starts a private redis-server and stops it afterwards.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const external = process.env.REDIS_URL;
  if (external) {
    project.provide('redisUrl', external);
    return async () => {};
  }
  const server: RedisServer = await startRedisServer();
  const killOnExit = () => process.kill(server.pid, 'SIGKILL');
  process.once('exit', killOnExit);
  project.provide('redisUrl', server.url);
  return async () => {
    process.off('exit', killOnExit);
    await server.stop();
  };
}
