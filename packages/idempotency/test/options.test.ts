import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { idempotency as expressIdempotency } from '../src/adapters/express.ts';
import { idempotency as fastifyIdempotency } from '../src/adapters/fastify.ts';
import { idempotency as fetchIdempotency } from '../src/adapters/fetch.ts';
import { idempotency as koaIdempotency } from '../src/adapters/koa.ts';
import { idempotency as nodeIdempotency } from '../src/adapters/node-http.ts';
import { idempotent, isIdempotencyError, memoryStore, redisStore } from '../src/index.ts';

const store = memoryStore();

function failure(build: () => unknown): { option: string; message: string; received: unknown } {
  try {
    build();
  } catch (error) {
    if (!isIdempotencyError(error, 'INVALID_OPTIONS')) throw error;
    // Narrowed to InvalidOptionsError: .option and .received without a cast.
    return { option: error.option, message: error.message, received: error.received };
  }
  throw new Error('expected INVALID_OPTIONS');
}

describe('options are validated at construction, naming the option', () => {
  it.each([
    ['store', {}],
    ['store', { store: { claim() {} } }],
    ['lockTtlMs', { store, lockTtlMs: 0 }],
    ['lockTtlMs', { store, lockTtlMs: '10s' }],
    ['retentionMs', { store, retentionMs: 1.5 }],
    ['waitForInFlightMs', { store, waitForInFlightMs: -1 }],
    ['pollIntervalMs', { store, pollIntervalMs: 0 }],
    ['headerName', { store, headerName: 'bad header' }],
    ['methods.0', { store, methods: ['PO ST'] }],
    ['scope', { store, scope: 'user' }],
    ['fingerprint', { store, fingerprint: 42 }],
    ['maxBodyBytes', { store, maxBodyBytes: -1 }],
    ['maxRequestBodyBytes', { store, maxRequestBodyBytes: 0 }],
    ['maxRequestBodyBytes', { store, maxRequestBodyBytes: '1mb' }],
    ['storeHeaders.0', { store, storeHeaders: [''] }],
    ['failOpen', { store, failOpen: 'yes' }],
    ['clock', { store, clock: { now: () => 1 } }],
    ['onEvent', { store, onEvent: true }],
    ['lockTTL', { store, lockTTL: 5 }],
    ['(options)', null],
  ])('`%s`', (name, options) => {
    const error = failure(() => expressIdempotency(options as never));
    expect(error.option).toBe(name);
    expect(error.message).toContain(`option "${name}"`);
    expect(error.message).toMatch(/^express idempotency\(\): /);
  });

  it('names the closest known option for a typo', () => {
    expect(failure(() => koaIdempotency({ store, lockTTL: 5 } as never)).message).toContain(
      'did you mean "lockTtlMs"',
    );
  });

  it('every adapter validates when it is created', () => {
    const bad = { store, lockTtlMs: -5 } as never;
    for (const build of [
      () => expressIdempotency(bad),
      () => koaIdempotency(bad),
      () => nodeIdempotency(() => {}, bad),
      () => fetchIdempotency(() => new Response(), bad),
      () => fetchIdempotency(bad),
    ]) {
      expect(failure(build).option).toBe('lockTtlMs');
    }
  });

  it('rejects a node-http or fetch handler that is not a function, at construction', () => {
    expect(failure(() => nodeIdempotency('x' as never, { store })).option).toBe('handler');
    expect(failure(() => fetchIdempotency('x' as never, { store })).option).toBe('handler');
  });

  it('bad Fastify plugin options reject register(), not an uncaught exception', async () => {
    const app = Fastify();
    await expect(
      app.register(fastifyIdempotency, { store, lockTtlMs: -5 } as never),
    ).rejects.toMatchObject({ code: 'INVALID_OPTIONS', option: 'lockTtlMs' });
  });

  it('idempotent() validates its options and its function', () => {
    expect(failure(() => idempotent(async () => 1, { store } as never)).option).toBe('key');
    expect(failure(() => idempotent(null as never, { store, key: () => 'k' })).option).toBe('work');
    expect(
      failure(() => idempotent(async () => 1, { store, key: () => 'k', signal: 'x' } as never))
        .option,
    ).toBe('signal');
  });

  it('the stores validate their options', () => {
    expect(failure(() => memoryStore({ maxKeys: 0 })).option).toBe('maxKeys');
    expect(failure(() => redisStore({} as never)).message).toContain(
      'exactly one of client or url',
    );
    expect(failure(() => redisStore({ url: 'http://x' })).option).toBe('url');
    expect(failure(() => redisStore({ url: 'redis://x', operationTimeoutMs: 0 })).option).toBe(
      'operationTimeoutMs',
    );
  });
});
