import { describe, expect, it } from 'vitest';
import { idempotency as expressIdempotency } from '../src/adapters/express.ts';
import { idempotency as fastifyIdempotency } from '../src/adapters/fastify.ts';
import { withIdempotency as fetchIdempotency, honoIdempotency } from '../src/adapters/fetch.ts';
import { idempotency as koaIdempotency } from '../src/adapters/koa.ts';
import { withIdempotency as nodeIdempotency } from '../src/adapters/node-http.ts';
import {
  createHttpIdempotency,
  idempotent,
  isIdempotencyError,
  MemoryStore,
} from '../src/index.ts';

const store = new MemoryStore();

function failure(build: () => unknown): { code?: string; message: string } {
  try {
    build();
  } catch (error) {
    if (!isIdempotencyError(error)) throw error;
    return { code: error.code, message: error.message };
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
    ['methods', { store, methods: ['PO ST'] }],
    ['scope', { store, scope: 'user' }],
    ['fingerprint', { store, fingerprint: 42 }],
    ['maxBodyBytes', { store, maxBodyBytes: -1 }],
    ['maxRequestBodyBytes', { store, maxRequestBodyBytes: 0 }],
    ['maxRequestBodyBytes', { store, maxRequestBodyBytes: '1mb' }],
    ['storeHeaders', { store, storeHeaders: [''] }],
    ['failOpen', { store, failOpen: 'yes' }],
    ['clock', { store, clock: { now: () => 1 } }],
    ['onEvent', { store, onEvent: true }],
    ['(options)', { store, lockTTL: 5 }],
  ])('`%s`', (name, options) => {
    const error = failure(() => createHttpIdempotency(options as never));
    expect(error.code).toBe('INVALID_OPTIONS');
    expect(error.message).toContain(`\`${name}\``);
  });

  it('every adapter validates when it is created', () => {
    const bad = { store, lockTtlMs: -5 } as never;
    for (const build of [
      () => expressIdempotency(bad),
      () => koaIdempotency(bad),
      () => nodeIdempotency(() => {}, bad),
      () => fetchIdempotency(() => new Response(), bad),
      () => honoIdempotency(bad),
      () => fastifyIdempotency({} as never, bad, () => {}),
      () => createHttpIdempotency(null as never),
    ]) {
      expect(failure(build).message).toMatch(/`lockTtlMs`|`\(options\)`/);
    }
  });

  it('idempotent() validates its options and its function', () => {
    expect(failure(() => idempotent(async () => 1, { store } as never)).message).toContain('`key`');
    expect(failure(() => idempotent(null as never, { store, key: () => 'k' })).code).toBe(
      'INVALID_OPTIONS',
    );
  });
});
