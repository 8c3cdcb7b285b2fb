import { Agent } from 'undici';
import { describe, expect, it } from 'vitest';
import { proxy } from '../src/adapters/node-http.ts';
import { isDiscoveryError, staticRegistry } from '../src/index.ts';
import { createRouter, type RouteOptions } from '../src/router/index.ts';

const registry = staticRegistry([]);

function optionError(routes: unknown, options: unknown) {
  try {
    createRouter(routes as RouteOptions[], options as never);
  } catch (error) {
    if (isDiscoveryError(error, 'INVALID_OPTIONS')) return error;
    throw error;
  }
  throw new Error('no error');
}

describe('createRouter() options', () => {
  it('names the bad option', () => {
    expect(optionError([{ match: {}, to: 'ftp://x' }], { registry }).option).toBe('routes.0.to');
    expect(
      optionError([{ match: { pathPrefix: 'api' }, to: 'http://x' }], { registry }).option,
    ).toBe('routes.0.match.pathPrefix');
    expect(optionError([{ match: {}, to: 'http://x?q=1' }], { registry }).option).toBe(
      'routes.0.to',
    );
    expect(optionError([], { registry, forwarded: 'all' }).option).toBe('forwarded');
    expect(optionError([], { registry, timeoutMs: 0 }).option).toBe('timeoutMs');
    expect(optionError([], { registry, trustProxy: 'yes' }).option).toBe('trustProxy');
    expect(optionError('routes', { registry }).option).toBe('routes');
  });

  it('needs exactly one of registry and dispatcher', () => {
    expect(() => createRouter([], {})).toThrow(/registry or dispatcher/);
    expect(() => createRouter([], { registry, dispatcher: new Agent() })).toThrow(
      /registry or dispatcher/,
    );
  });

  it('proxy() refuses something that is not a router', () => {
    expect(() => proxy({} as never)).toThrow(/createRouter\(\)/);
  });
});

describe('match()', () => {
  const router = createRouter(
    [
      {
        id: 'get-orders',
        match: { pathPrefix: '/api/orders/', methods: ['get'] },
        to: 'http://orders',
      },
      { match: { headers: { 'X-Canary': true } }, to: 'http://canary' },
      { match: {}, to: 'http://fallback' },
    ],
    { registry },
  );

  it('matches whole path segments, methods in any case, headers by presence, in order', () => {
    expect(router.match('GET', '/api/orders')?.id).toBe('get-orders');
    expect(router.match('GET', '/api/orders/7?x')?.id).toBe('get-orders');
    expect(router.match('GET', '/api/orders?x')?.id).toBe('get-orders');
    expect(router.match('GET', '/api/ordersx')?.id).toBe('http://fallback');
    expect(router.match('POST', '/api/orders', { 'x-canary': '1' })?.id).toBe('http://canary');
    expect(router.routes.map((route) => route.id)).toEqual([
      'get-orders',
      'http://canary',
      'http://fallback',
    ]);
  });

  it('close() is idempotent', async () => {
    await router.close();
    await router.close();
  });
});
