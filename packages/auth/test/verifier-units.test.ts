import { describe, expect, it } from 'vitest';
import { extractBearer } from '../src/bearer.ts';
import { hasScopes, scopesOf } from '../src/index.ts';
import { createGuard } from '../src/resource-server.ts';
import { Doorkeeper, TokenCache } from '../src/token-cache.ts';

describe('TokenCache', () => {
  it('evicts an entry not read since it became the eldest (second chance)', () => {
    const cache = new TokenCache<number>(2);
    cache.set('a', 1);
    cache.set('b', 2);
    expect(cache.get('a')).toBe(1); // a gets a second chance
    cache.set('c', 3);
    expect(cache.get('b')).toBeUndefined();
    expect([cache.get('a'), cache.get('c'), cache.size]).toEqual([1, 3, 2]);
  });

  it('evicts the eldest when every entry was read', () => {
    const cache = new TokenCache<number>(3);
    for (const k of ['a', 'b', 'c']) cache.set(k, 0);
    for (const k of ['a', 'b', 'c']) cache.get(k);
    cache.set('d', 0);
    expect(['a', 'b', 'c', 'd'].map((k) => cache.get(k) !== undefined)).toEqual([
      false,
      true,
      true,
      true,
    ]);
  });

  it('keeps nothing when maxEntries is 0', () => {
    const cache = new TokenCache<number>(0);
    cache.set('a', 1);
    expect(cache.size).toBe(0);
  });
});

describe('Doorkeeper', () => {
  it('admits a token the second time it is offered', () => {
    const door = new Doorkeeper(100);
    const tokens = Array.from(
      { length: 50 },
      (_, i) => `header.payload.signature-${i}-${i * 7919}`,
    );
    expect(tokens.map((t) => door.admit(t)).some(Boolean)).toBe(false);
    expect(tokens.filter((t) => door.admit(t)).length).toBeGreaterThanOrEqual(45);
  });
});

describe('scopes', () => {
  it('reads scope strings and scp arrays, ignoring blanks and duplicates', () => {
    expect(scopesOf({ scope: ' a  b a ' })).toEqual(['a', 'b']);
    expect(scopesOf({ scp: 'x y' })).toEqual(['x', 'y']);
    expect(scopesOf({ scp: ['x', 1, null] })).toEqual(['x']);
    expect(scopesOf({ scope: 42 })).toEqual([]);
  });

  it('checks all or any', () => {
    expect(hasScopes(['a', 'b'], ['a', 'b'])).toBe(true);
    expect(hasScopes(['a'], ['a', 'b'])).toBe(false);
    expect(hasScopes(['b'], ['a', 'b'], 'any')).toBe(true);
    expect(hasScopes([], [], 'any')).toBe(true);
  });
});

describe('extractBearer', () => {
  const none = { authorization: [], query: '' };
  it.each([
    [
      { ...none, authorization: ['Bearer abc.def-_~+/='] },
      { kind: 'token', token: 'abc.def-_~+/=' },
    ],
    [
      { ...none, authorization: ['bearer   abc'] },
      { kind: 'token', token: 'abc' },
    ],
    [{ ...none, authorization: ['Basic dTpw'] }, { kind: 'none' }],
    [{ ...none, authorization: ['Bearerabc'] }, { kind: 'none' }],
    [none, { kind: 'none' }],
    [{ ...none, query: 'x=1&access_tokens=2' }, { kind: 'none' }],
  ])('reads %j', (input, expected) => {
    expect(extractBearer(input, false)).toEqual(expected);
  });

  it.each([
    [{ ...none, authorization: ['Bearer a', 'Bearer a'] }, false],
    [{ ...none, authorization: ['Bearer a=b'] }, false],
    [{ ...none, query: 'access_token=abc' }, false],
    [{ ...none, query: 'access_token=a%20b' }, true],
    [{ ...none, query: 'access_token=' }, true],
  ])('refuses %j as invalid_request', (input, allowQuery) => {
    expect(extractBearer(input, allowQuery).kind).toBe('invalid');
  });
});

describe('createGuard options', () => {
  it.each([
    [{ realm: 'a"b' }, 'realm'],
    [{ scopes: ['has space'] }, 'scopes.0'],
    [{ scopeMode: 'some' }, 'scopeMode'],
    [{ allowQueryToken: 'yes' }, 'allowQueryToken'],
    [{ claims: 5 }, 'claims'],
    [{ scope: ['a'] }, '(options)'],
  ])('refuses %j naming "%s"', (options, name) => {
    expect(() => createGuard(undefined, options as never)).toThrow(`option "${name}"`);
  });

  it('requires a verifier for requireAuth', () => {
    expect(() => createGuard(undefined)).toThrow('createVerifier()');
    expect(() => createGuard({} as never, {}, 'authenticate')).toThrow('authenticate:');
  });

  it('checks claims with values, lists and predicates', () => {
    const guard = createGuard(
      undefined,
      {
        claims: {
          tenant: ['t1', 't2'],
          level: (v) => typeof v === 'number' && v > 2,
          active: true,
        },
      },
      'requireClaims',
    );
    const auth = (claims: Record<string, unknown>) =>
      ({
        subject: 's',
        scopes: [],
        claims,
        header: { alg: 'ES256' },
        expiresAt: undefined,
      }) as const;
    expect(guard.authorize(auth({ tenant: 't2', level: 3, active: true }))).toBeUndefined();
    expect(guard.authorize(auth({ tenant: 't3', level: 3, active: true }))?.status).toBe(403);
    expect(guard.authorize(auth({ tenant: 't1', level: 1, active: true }))?.status).toBe(403);
    expect(guard.authorize(auth({ tenant: 't1', level: 3, active: 'true' }))?.status).toBe(403);
    expect(guard.authorize(undefined)?.status).toBe(401);
  });
});
