import { describe, expect, it } from 'vitest';
import { isDiscoveryError, normalizeInstance } from '../src/index.ts';

function invalidField(input: unknown, service?: string): string {
  try {
    normalizeInstance(input, service);
  } catch (error) {
    if (isDiscoveryError(error, 'INVALID_INSTANCE')) return error.field;
    throw error;
  }
  throw new Error('expected INVALID_INSTANCE');
}

describe('normalizeInstance', () => {
  it('fills in defaults and freezes the result', () => {
    const instance = normalizeInstance({ service: 'orders', address: '10.0.0.5', port: 8080 });
    expect(instance).toEqual({
      id: '10.0.0.5:8080',
      service: 'orders',
      address: '10.0.0.5',
      port: 8080,
      tags: [],
      meta: {},
      zone: undefined,
      weight: 1,
      healthy: true,
    });
    expect(Object.isFrozen(instance)).toBe(true);
    expect(Object.isFrozen(instance.tags)).toBe(true);
    expect(Object.isFrozen(instance.meta)).toBe(true);
  });

  it('keeps every given field and copies tags and meta', () => {
    const tags = ['v2'];
    const meta = { version: '2.1.0' };
    const instance = normalizeInstance(
      {
        id: 'orders-1',
        address: '::1',
        port: 1,
        tags,
        meta,
        zone: 'a',
        weight: 2.5,
        healthy: false,
      },
      'orders',
    );
    expect(instance).toMatchObject({
      id: 'orders-1',
      service: 'orders',
      address: '::1',
      port: 1,
      zone: 'a',
      weight: 2.5,
      healthy: false,
    });
    tags.push('mutated');
    meta.version = 'mutated';
    expect(instance.tags).toEqual(['v2']);
    expect(instance.meta).toEqual({ version: '2.1.0' });
  });

  it('treats null and empty zone like absent fields (registries send null)', () => {
    const instance = normalizeInstance({
      service: 's',
      address: 'h',
      port: 2,
      id: null,
      zone: '',
      tags: null,
      meta: null,
      weight: null,
    });
    expect(instance).toMatchObject({ id: 'h:2', zone: undefined, tags: [], meta: {}, weight: 1 });
  });

  it.each([
    ['a port of 0', { service: 's', address: 'h', port: 0 }, 'port'],
    ['a port above 65535', { service: 's', address: 'h', port: 65_536 }, 'port'],
    ['a fractional port', { service: 's', address: 'h', port: 80.5 }, 'port'],
    ['a port as a string', { service: 's', address: 'h', port: '80' }, 'port'],
    ['a NaN port', { service: 's', address: 'h', port: Number.NaN }, 'port'],
    ['an empty address', { service: 's', address: '', port: 80 }, 'address'],
    ['an address with a path', { service: 's', address: 'h/x', port: 80 }, 'address'],
    ['an address with spaces', { service: 's', address: 'h x', port: 80 }, 'address'],
    ['a bracketed IPv6 address', { service: 's', address: '[::1]', port: 80 }, 'address'],
    ['a numeric address', { service: 's', address: 127001, port: 80 }, 'address'],
    ['no service', { address: 'h', port: 80 }, 'service'],
    ['a service with a slash', { service: 'a/b', address: 'h', port: 80 }, 'service'],
    ['an empty id', { service: 's', address: 'h', port: 80, id: '' }, 'id'],
    ['a numeric id', { service: 's', address: 'h', port: 80, id: 7 }, 'id'],
    ['tags that are not an array', { service: 's', address: 'h', port: 80, tags: 'v2' }, 'tags'],
    [
      'a tag that is not a string',
      { service: 's', address: 'h', port: 80, tags: ['ok', 3] },
      'tags.1',
    ],
    ['meta that is an array', { service: 's', address: 'h', port: 80, meta: ['x'] }, 'meta'],
    [
      'a meta value that is not a string',
      { service: 's', address: 'h', port: 80, meta: { v: 2 } },
      'meta.v',
    ],
    ['a zone that is not a string', { service: 's', address: 'h', port: 80, zone: 3 }, 'zone'],
    ['a weight of 0', { service: 's', address: 'h', port: 80, weight: 0 }, 'weight'],
    ['a negative weight', { service: 's', address: 'h', port: 80, weight: -1 }, 'weight'],
    [
      'an infinite weight',
      { service: 's', address: 'h', port: 80, weight: Number.POSITIVE_INFINITY },
      'weight',
    ],
    ['healthy as a string', { service: 's', address: 'h', port: 80, healthy: 'yes' }, 'healthy'],
  ])('rejects %s', (_, input, field) => {
    expect(invalidField(input)).toBe(field);
  });

  it.each([
    ['null', null],
    ['a string', 'orders:8080'],
    ['an array', [{ service: 's', address: 'h', port: 80 }]],
    ['a class instance', new Date()],
  ])('rejects a record that is %s', (_, input) => {
    expect(invalidField(input, 's')).toBe('');
  });

  it('rejects a record of another service than the one asked for', () => {
    expect(invalidField({ service: 'payments', address: 'h', port: 80 }, 'orders')).toBe('service');
  });

  it('says which field, which value and which service in the message', () => {
    try {
      normalizeInstance({ address: 'h', port: 0 }, 'orders');
      expect.unreachable();
    } catch (error) {
      expect(isDiscoveryError(error, 'INVALID_INSTANCE')).toBe(true);
      expect((error as Error).message).toMatch(/service "orders".*"port".*got 0/);
      expect(error).toMatchObject({ code: 'INVALID_INSTANCE', field: 'port', received: 0 });
    }
  });

  it('bounds oversized input', () => {
    const many = Array.from({ length: 1000 }, (_, i) => `t${i}`);
    expect(invalidField({ service: 's', address: 'h', port: 80, tags: many })).toBe('tags');
    expect(invalidField({ service: 's', address: 'h'.repeat(300), port: 80 })).toBe('address');
    expect(invalidField({ service: 's', address: 'h', port: 80, id: 'x'.repeat(5000) })).toBe('id');
  });
});
