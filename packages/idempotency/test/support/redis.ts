import { randomUUID } from 'node:crypto';
import type {} from '@ballast/test-utils/global-setup';
import { Redis } from 'ioredis';
import { inject } from 'vitest';

/** A Redis client on the test Redis, and a key prefix of its own for one test. */
export function testRedis(): { client: Redis; prefix: string } {
  const client = new Redis(inject('redisUrl'), { maxRetriesPerRequest: 1, lazyConnect: false });
  return { client, prefix: `idempotency-test:${randomUUID()}:` };
}

/** A promise with its resolve function outside, to hold a handler until the test lets it go. */
export function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}
