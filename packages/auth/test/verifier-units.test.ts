import { describe, expect, it } from 'vitest';
import { extractBearer } from '../src/bearer.ts';
import { type ClaimRules, checkClaims, normalizeTyp } from '../src/claims.ts';
import { InvalidTokenError } from '../src/errors.ts';
import { hasScopes, scopesOf } from '../src/index.ts';
import { claimGuard, createGuard, scopeGuard, verifyingGuard } from '../src/resource-server.ts';
import { Doorkeeper, fingerprintOf, TokenCache } from '../src/token-cache.ts';

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

describe('TokenCache keys', () => {
  it('never answers for another token with the same fingerprint; the later one replaces it', () => {
    const cache = new TokenCache<number>(10);
    cache.set('token-a', 1, 42);
    expect(cache.get('token-b', 42)).toBeUndefined();
    expect(cache.get('token-a', 42)).toBe(1);
    cache.set('token-b', 2, 42);
    expect(cache.get('token-a', 42)).toBeUndefined();
    cache.delete('token-a', 42); // not the token stored under 42: left alone
    expect(cache.get('token-b', 42)).toBe(2);
    expect(cache.size).toBe(1);
  });

  it('fingerprints a token by its tail, as a small non-negative integer', () => {
    const tail = 'S'.repeat(12);
    const a = fingerprintOf(`${'x'.repeat(500)}.one${tail}`);
    expect(a).toBe(fingerprintOf(`${'y'.repeat(500)}.one${tail}`)); // same last 16 characters
    expect(a).not.toBe(fingerprintOf(`${'x'.repeat(500)}.two${tail}`));
    expect(Number.isInteger(a) && a >= 0 && a < 2 ** 30).toBe(true);
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

  it('returns a frozen list, deduplicated however long it is', () => {
    expect(Object.isFrozen(scopesOf({ scope: 'a b' }))).toBe(true);
    const many = Array.from({ length: 40 }, (_, i) => `s${i % 20}`).join(' ');
    expect(scopesOf({ scope: many })).toHaveLength(20);
  });

  it('reuses the list built for a scope string, and never answers for a colliding one', () => {
    const first = scopesOf({ scope: 'orders:read orders:write' });
    expect(scopesOf({ scope: 'orders:read orders:write' })).toBe(first);
    // same length, first and last characters: the same slot of the built-list table
    const a = 'read x write';
    const b = 'read y write';
    for (let i = 0; i < 3; i++) {
      expect(scopesOf({ scope: a })).toEqual(['read', 'x', 'write']);
      expect(scopesOf({ scp: b })).toEqual(['read', 'y', 'write']);
    }
    expect(scopesOf({ scope: '' })).toEqual([]);
    expect(scopesOf({ scope: ' ' })).toEqual([]);
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
    [{ scope: ['a'] }, 'scope'],
  ])('refuses %j naming "%s"', (options, name) => {
    const verifier = { verify: async () => ({}) } as never;
    expect(() => createGuard(verifier, options as never)).toThrow(`option "${name}"`);
  });

  it('requires a verifier for requireAuth, naming the factory', () => {
    expect(() => createGuard(undefined as never)).toThrow('createVerifier()');
    expect(() => verifyingGuard({} as never, {}, 'authenticate()')).toThrow('authenticate():');
  });

  it('decides that a guard verifies by how it is built, not by its name in messages', () => {
    // scopeGuard() named like requireAuth still only authorizes; verifyingGuard() always verifies.
    expect(() => scopeGuard(['a'], {}, 'requireAuth()')).not.toThrow();
    expect(() => verifyingGuard(undefined as never, {}, 'someFramework()')).toThrow(
      'option "verifier"',
    );
  });

  it('checks claims with values, lists and predicates', () => {
    const guard = claimGuard({
      tenant: ['t1', 't2'],
      level: (v) => typeof v === 'number' && v > 2,
      active: true,
    });
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

describe('checkClaims', () => {
  const NOW_S = 1_700_000_000;
  const rules: ClaimRules = {
    issuer: 'https://issuer.example/',
    audiences: ['https://api.example', 'https://other.example'],
    required: ['exp', 'iss', 'aud'],
    toleranceS: 5,
    maxTokenAgeS: undefined,
    typ: undefined,
  };
  const good = { iss: rules.issuer, aud: 'https://api.example', exp: NOW_S + 60, iat: NOW_S };
  const bytes = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));
  const check = (claims: unknown, more: Partial<ClaimRules> = {}, header = {}) =>
    checkClaims({ alg: 'ES256', ...header }, bytes(claims), { ...rules, ...more }, NOW_S * 1000);
  const reasonOf = (fn: () => unknown): string | undefined => {
    try {
      fn();
      return undefined;
    } catch (error) {
      expect(error).toBeInstanceOf(InvalidTokenError);
      return (error as InvalidTokenError).reason;
    }
  };

  it('returns the claims of a valid token', () => {
    expect(check(good)).toEqual(good);
  });

  it.each([
    ['exp at now - tolerance', { exp: NOW_S - 5 }, 'expired'],
    ['exp one second later', { exp: NOW_S - 4 }, undefined],
    ['nbf at now + tolerance', { nbf: NOW_S + 5 }, undefined],
    ['nbf one second later', { nbf: NOW_S + 6 }, 'not_yet_valid'],
    ['exp not a number', { exp: String(NOW_S + 60) }, 'claim'],
    ['nbf not a number', { nbf: 'soon' }, 'not_yet_valid'],
    ['iat not a number', { iat: null }, 'too_old'],
    ['another issuer', { iss: 'https://issuer.example' }, 'claim'],
    [
      'an aud array naming an accepted audience',
      { aud: ['x', 'https://other.example'] },
      undefined,
    ],
    ['an aud array naming none', { aud: ['x', 'y'] }, 'claim'],
    ['an aud that is not a string', { aud: 7 }, 'claim'],
    ['no exp', { exp: undefined }, 'claim'],
  ])('%s', (_label, change, reason) => {
    expect(reasonOf(() => check({ ...good, ...change }))).toBe(reason);
  });

  it('checks presence only for required claims (null is present)', () => {
    const more = { required: [...rules.required, 'tenant'] };
    expect(reasonOf(() => check(good, more))).toBe('claim');
    expect(reasonOf(() => check({ ...good, tenant: null }, more))).toBeUndefined();
  });

  it('applies maxTokenAgeS with the tolerance, and refuses an iat in the future', () => {
    const more = { maxTokenAgeS: 60, required: [...rules.required, 'iat'] };
    expect(reasonOf(() => check({ ...good, iat: NOW_S - 65 }, more))).toBeUndefined();
    expect(reasonOf(() => check({ ...good, iat: NOW_S - 66 }, more))).toBe('too_old');
    expect(reasonOf(() => check({ ...good, iat: NOW_S + 6 }, more))).toBe('too_old');
    expect(reasonOf(() => check({ ...good, iat: undefined }, more))).toBe('too_old');
  });

  it('compares typ as a media type', () => {
    const more = { typ: normalizeTyp('at+jwt') };
    expect(reasonOf(() => check(good, more, { typ: 'AT+JWT' }))).toBeUndefined();
    expect(reasonOf(() => check(good, more, { typ: 'application/at+jwt' }))).toBeUndefined();
    expect(reasonOf(() => check(good, more, { typ: 'JWT' }))).toBe('claim');
    expect(reasonOf(() => check(good, more))).toBe('claim');
  });

  it.each([
    ['a JSON array', bytes([good])],
    ['JSON null', bytes(null)],
    ['not JSON', new TextEncoder().encode('{"iss":')],
    ['invalid UTF-8', new Uint8Array([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d])],
  ])('refuses a payload that is %s as malformed', (_label, payload) => {
    const run = () => checkClaims({ alg: 'ES256' }, payload, rules, NOW_S * 1000);
    expect(reasonOf(run)).toBe('malformed');
  });

  it('refuses an unencoded payload (b64: false)', () => {
    expect(reasonOf(() => check(good, {}, { b64: false, crit: ['b64'] }))).toBe('malformed');
  });
});
