import { ManualClock, startHttpServer } from '@ballast/test-utils';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createVerifier, isAuthError, type JwksEvent, type Verifier } from '../src/index.ts';
import { createTestIssuer, type TestIssuer } from '../src/testing/index.ts';
import { hangingEndpoint } from './hanging-endpoint.ts';
import { issuerVerifier } from './issuer-verifier.ts';

let issuer: TestIssuer;
let clock: ManualClock;
let verifier: Verifier | undefined;

beforeEach(async () => {
  clock = new ManualClock(Date.UTC(2030, 0, 1));
  issuer = await createTestIssuer({ clock });
});
afterEach(async () => {
  verifier?.close();
  verifier = undefined;
  await issuer.close();
});

function make(extra: Record<string, unknown> = {}): Verifier {
  verifier = issuerVerifier(issuer, clock, {
    cache: { admitFirstUse: true }, // most tests look at the cache after one verification
    ...extra,
  });
  return verifier;
}

async function refused(promise: Promise<unknown>): Promise<{ code: string; reason?: string }> {
  try {
    await promise;
  } catch (error) {
    if (!isAuthError(error)) throw error;
    return { code: error.code, reason: (error as { reason?: string }).reason };
  }
  throw new Error('expected a refusal');
}

describe('createVerifier', () => {
  it.each(['RS256', 'ES256', 'EdDSA'] as const)(
    'verifies a %s token and types the result',
    async (alg) => {
      const v = make();
      const token = await issuer.sign(
        { sub: 'user-1', scope: 'orders:read orders:write' },
        { alg },
      );
      const result = await v.verify(token);
      expect(result.subject).toBe('user-1');
      expect(result.scopes).toEqual(['orders:read', 'orders:write']);
      expect(result.header.alg).toBe(alg);
      expect(result.claims.iss).toBe(issuer.url);
      expect(result.expiresAt).toBe((result.claims.exp as number) * 1000);
      expect(Object.isFrozen(result.claims)).toBe(true);
    },
  );

  it('reads scopes from an scp array', async () => {
    const v = make();
    const result = await v.verify(await issuer.sign({ scp: ['a', 'b', 'a', 7] }));
    expect(result.scopes).toEqual(['a', 'b']);
  });

  it('finds jwks_uri through OIDC discovery', async () => {
    const v = make({ jwksUri: undefined, discovery: true });
    await expect(v.verify(await issuer.sign({ sub: 'x' }))).resolves.toMatchObject({
      subject: 'x',
    });
    expect(v.status().jwks.uri).toBe(issuer.jwksUri);
    expect(issuer.requests.metadata).toBe(1);
  });

  it('fails discovery with DISCOVERY_FAILED when the metadata is unreachable', async () => {
    const v = make({ jwksUri: undefined, discovery: true });
    issuer.setFault('metadata', 'down');
    const token = await issuer.sign();
    expect(await refused(v.verify(token))).toEqual({ code: 'DISCOVERY_FAILED', reason: undefined });
  });

  it('falls back to RFC 8414 metadata and refuses metadata naming another issuer', async () => {
    let served = { issuer: '', jwks_uri: issuer.jwksUri };
    const seen: string[] = [];
    const meta = await startHttpServer((req, res) => {
      seen.push(req.url ?? '');
      if (req.url !== '/.well-known/oauth-authorization-server/tenant')
        return void res.writeHead(404).end();
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(served));
    });
    try {
      const ownIssuer = `${meta.url}/tenant`;
      served = { issuer: ownIssuer, jwks_uri: issuer.jwksUri };
      const v = make({ issuer: ownIssuer, jwksUri: undefined, discovery: true });
      await expect(v.verify(await issuer.sign({ iss: ownIssuer }))).resolves.toBeDefined();
      expect(seen).toEqual([
        '/tenant/.well-known/openid-configuration',
        '/.well-known/oauth-authorization-server/tenant',
      ]);
      v.close();
      served = { issuer: 'https://evil.example', jwks_uri: issuer.jwksUri };
      const w = make({ issuer: ownIssuer, jwksUri: undefined, discovery: true });
      const error = await w.verify(await issuer.sign({ iss: ownIssuer })).catch((e: Error) => e);
      expect(isAuthError(error, 'DISCOVERY_FAILED')).toBe(true);
      expect((error as Error).message).toContain('names issuer "https://evil.example"');
    } finally {
      await meta.close();
    }
  });

  it('refuses discovered jwks_uri that is not https', async () => {
    const meta = await startHttpServer((_req, res) => {
      const body = {
        issuer: `http://127.0.0.1:${meta.port}`,
        jwks_uri: 'http://keys.example/jwks',
      };
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    });
    try {
      const v = make({ issuer: meta.url, jwksUri: undefined, discovery: true });
      const error = await v.verify(await issuer.sign({ iss: meta.url })).catch((e: Error) => e);
      expect(isAuthError(error, 'DISCOVERY_FAILED')).toBe(true);
    } finally {
      await meta.close();
    }
  });

  it('caches a verified token: the second call does no crypto and no fetch', async () => {
    const v = make();
    const token = await issuer.sign({ sub: 'cached' });
    const first = await v.verify(token);
    const second = await v.verify(token);
    expect(second).toBe(first);
    expect(v.status().cache.entries).toBe(1);
    expect(issuer.requests.jwks).toBe(1);
  });

  it('by default caches a token from its second verification on (one-time tokens stay out)', async () => {
    const v = make({ cache: {} });
    const token = await issuer.sign();
    const first = await v.verify(token);
    expect(v.status().cache.entries).toBe(0);
    const second = await v.verify(token);
    expect(second).not.toBe(first);
    expect(v.status().cache.entries).toBe(1);
    expect(await v.verify(token)).toBe(second);
    for (let i = 0; i < 20; i++) await v.verify(await issuer.sign({ jti: String(i) }));
    expect(v.status().cache.entries).toBe(1);
  });

  it('stops serving a cached token at exp', async () => {
    const v = make({ clockToleranceMs: 0 });
    const token = await issuer.sign({}, { expiresInMs: 60_000 });
    await v.verify(token);
    clock.advance(60_000);
    expect(await refused(v.verify(token))).toEqual({ code: 'INVALID_TOKEN', reason: 'expired' });
  });

  it('applies maxTokenAgeMs to cached tokens too', async () => {
    const v = make({ maxTokenAgeMs: 10_000, clockToleranceMs: 0 });
    const token = await issuer.sign();
    await v.verify(token);
    clock.advance(11_000);
    expect(await refused(v.verify(token))).toEqual({ code: 'INVALID_TOKEN', reason: 'too_old' });
  });

  it('checks typ when configured', async () => {
    const v = make({ typ: 'at+jwt' });
    await expect(v.verify(await issuer.sign())).resolves.toBeDefined();
    const plain = await issuer.sign({}, { header: { typ: 'JWT' } });
    expect(await refused(v.verify(plain))).toEqual({ code: 'INVALID_TOKEN', reason: 'claim' });
  });

  it('allows clockToleranceMs of skew on exp and nbf (5 s by default), and no more', async () => {
    const nowS = Math.floor(clock.now() / 1000);
    const late = await issuer.sign({ exp: nowS - 3 });
    const early = await issuer.sign({ nbf: nowS + 3 });
    const lenient = make();
    await expect(lenient.verify(late)).resolves.toBeDefined();
    await expect(lenient.verify(early)).resolves.toBeDefined();
    lenient.close();
    const strict = make({ clockToleranceMs: 0 });
    expect(await refused(strict.verify(late))).toMatchObject({ reason: 'expired' });
    expect(await refused(strict.verify(early))).toMatchObject({ reason: 'not_yet_valid' });
    strict.close();
    const beyond = make();
    expect(await refused(beyond.verify(await issuer.sign({ exp: nowS - 6 })))).toMatchObject({
      reason: 'expired',
    });
  });

  it('refuses tokens longer than maxTokenBytes before looking at them', async () => {
    const v = make({ maxTokenBytes: 1_024 });
    await expect(v.verify(await issuer.sign({}, { alg: 'ES256' }))).resolves.toBeDefined();
    const big = await issuer.sign({ padding: 'p'.repeat(1_024) }, { alg: 'ES256' });
    expect(await refused(v.verify(big))).toEqual({ code: 'INVALID_TOKEN', reason: 'too_large' });
    expect(await refused(v.verify('x'.repeat(1_025)))).toMatchObject({ reason: 'too_large' });
  });

  it('requires exp by default; requireExp: false accepts a token without it but never caches it', async () => {
    const token = await issuer.sign({ exp: undefined });
    expect(await refused(make().verify(token))).toEqual({ code: 'INVALID_TOKEN', reason: 'claim' });
    verifier?.close();
    const v = make({ requireExp: false });
    await expect(v.verify(token)).resolves.toMatchObject({ expiresAt: undefined });
    await v.verify(token);
    expect(v.status().cache.entries).toBe(0);
  });

  it('enforces requiredClaims', async () => {
    const v = make({ requiredClaims: ['tenant'] });
    expect(await refused(v.verify(await issuer.sign()))).toMatchObject({ reason: 'claim' });
    await expect(v.verify(await issuer.sign({ tenant: 't1' }))).resolves.toBeDefined();
  });

  it('verifies HS256 only when configured with a secret', async () => {
    const { SignJWT } = await import('jose');
    const secret = 'a-very-long-shared-secret-of-32-chars!!';
    verifier = createVerifier({
      issuer: 'svc',
      audience: 'api',
      algorithms: ['HS256'],
      secret,
      clock,
    });
    const token = await new SignJWT({ sub: 's' })
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer('svc')
      .setAudience('api')
      .setExpirationTime(clock.now() / 1000 + 60)
      .sign(new TextEncoder().encode(secret));
    await expect(verifier.verify(token)).resolves.toMatchObject({ subject: 's' });
  });

  it('honours an aborted signal', async () => {
    const v = make();
    const token = await issuer.sign();
    expect(await refused(v.verify(token, { signal: AbortSignal.abort() }))).toMatchObject({
      code: 'ABORTED',
    });
  });

  it('stops waiting for a hanging JWKS fetch when its signal aborts', async () => {
    await using hanging = await hangingEndpoint();
    const v = make({ jwksUri: hanging.url });
    const controller = new AbortController();
    const pending = refused(v.verify(await issuer.sign(), { signal: controller.signal }));
    await hanging.arrived();
    controller.abort();
    expect(await pending).toMatchObject({ code: 'ABORTED' });
  });

  it('closes with Symbol.asyncDispose', async () => {
    const v = make();
    await v.verify(await issuer.sign());
    await v[Symbol.asyncDispose]();
    expect(v.status().cache.entries).toBe(0);
  });
});

describe('options', () => {
  const base = {
    issuer: 'https://issuer.test/',
    audience: 'api',
    jwksUri: 'https://issuer.test/jwks',
  };
  it.each([
    [{ ...base }, 'algorithms'],
    [{ ...base, algorithms: [] }, 'algorithms'],
    [{ ...base, algorithms: ['none'] }, 'algorithms.0'],
    [{ ...base, algorithms: ['HS256'] }, 'algorithms'],
    [{ ...base, algorithms: ['RS256'], secret: 'short' }, 'secret'],
    [{ ...base, algorithms: ['RS256'], jwksUri: 'http://issuer.test/jwks' }, 'jwksUri'],
    [{ ...base, algorithms: ['RS256'], jwksUri: undefined }, 'jwksUri'],
    [{ ...base, algorithms: ['RS256'], discovery: true }, 'discovery'],
    [{ ...base, algorithms: ['RS256'], audience: '' }, 'audience'],
    [{ ...base, algorithms: ['RS256'], clockToleranceMs: -1 }, 'clockToleranceMs'],
    [{ ...base, algorithms: ['RS256'], maxTokenBytes: 10 }, 'maxTokenBytes'],
    [{ ...base, algorithms: ['RS256'], jwks: { cooldownMs: 'soon' } }, 'jwks.cooldownMs'],
    [{ ...base, algorithms: ['RS256'], cache: { maxEntries: -1 } }, 'cache.maxEntries'],
    [{ ...base, algorithms: ['RS256'], clock: {} }, 'clock'],
    [{ ...base, algorithms: ['RS256'], jwksURI: 'x' }, 'jwksURI'],
    [{ ...base, algorithms: ['RS256'], issuer: '' }, 'issuer'],
    [{ ...base, algorithms: ['RS256'], audience: [] }, 'audience'],
    [{ ...base, algorithms: ['RS256'], discovery: 'yes' }, 'discovery'],
    [
      {
        ...base,
        algorithms: ['RS256'],
        jwksUri: undefined,
        discovery: true,
        issuer: 'http://a.test',
      },
      'issuer',
    ],
    [{ ...base, algorithms: ['RS256'], secret: 's'.repeat(40) }, 'secret'],
    [{ ...base, algorithms: ['RS256'], clockToleranceMs: 1.5 }, 'clockToleranceMs'],
    [{ ...base, algorithms: ['RS256'], maxTokenAgeMs: 0 }, 'maxTokenAgeMs'],
    [{ ...base, algorithms: ['RS256'], requiredClaims: [''] }, 'requiredClaims.0'],
    [{ ...base, algorithms: ['RS256'], requiredClaims: 'tenant' }, 'requiredClaims'],
    [{ ...base, algorithms: ['RS256'], requireExp: 'no' }, 'requireExp'],
    [{ ...base, algorithms: ['RS256'], typ: '' }, 'typ'],
    [{ ...base, algorithms: ['RS256'], maxTokenBytes: 2 * 1024 * 1024 }, 'maxTokenBytes'],
    [{ ...base, algorithms: ['RS256'], allowInsecureHttp: 1 }, 'allowInsecureHttp'],
    [{ ...base, algorithms: ['RS256'], jwks: { timeoutMs: 0 } }, 'jwks.timeoutMs'],
    [{ ...base, algorithms: ['RS256'], jwks: { maxStaleMs: -1 } }, 'jwks.maxStaleMs'],
    [{ ...base, algorithms: ['RS256'], jwks: { maxBodyBytes: 10 } }, 'jwks.maxBodyBytes'],
    [{ ...base, algorithms: ['RS256'], jwks: { refreshIntervalMs: 10 } }, 'jwks.refreshIntervalMs'],
    [{ ...base, algorithms: ['RS256'], cache: { admitFirstUse: 'no' } }, 'cache.admitFirstUse'],
  ])('refuses %j naming "%s"', (options, name) => {
    try {
      createVerifier(options as never);
      expect.unreachable();
    } catch (error) {
      expect(isAuthError(error, 'INVALID_OPTIONS')).toBe(true);
      expect((error as Error).message).toContain(`"${name}"`);
    }
  });

  it('allows plain http to a non-loopback JWKS only with allowInsecureHttp', () => {
    const v = createVerifier({
      ...base,
      jwksUri: 'http://auth.internal/jwks',
      allowInsecureHttp: true,
      algorithms: ['RS256'],
    });
    v.close();
  });
});

describe('JWKS cache', () => {
  it('refetches at most once per cooldown for any number of unknown kids', async () => {
    const v = make({ jwks: { cooldownMs: 30_000 } });
    await v.verify(await issuer.sign());
    expect(issuer.requests.jwks).toBe(1);
    const rs = issuer.keys().find((k) => k.alg === 'RS256')!;
    const forged = await Promise.all(
      Array.from({ length: 1000 }, (_, i) =>
        issuer.sign({}, { kid: rs.kid, header: { kid: `unknown-${i}-${Math.random()}` } }),
      ),
    );
    clock.advance(30_000); // the initial fetch's cooldown has passed
    const outcomes = await Promise.all(forged.map((t) => refused(v.verify(t))));
    expect(outcomes.every((o) => o.reason === 'unknown_key')).toBe(true);
    expect(issuer.requests.jwks).toBe(2);
    clock.advance(29_999);
    await refused(v.verify(forged[0]!));
    expect(issuer.requests.jwks).toBe(2);
    clock.advance(1);
    await refused(v.verify(forged[1]!));
    expect(issuer.requests.jwks).toBe(3);
  });

  it('accepts a rotated-in key after exactly one refetch', async () => {
    const v = make();
    await v.verify(await issuer.sign());
    const [, newEs] = await issuer.rotateKeys({ algorithms: ['RS256', 'ES256'] });
    clock.advance(30_000); // the default cooldown since the first fetch
    const fresh = await issuer.sign({ sub: 'new' }, { kid: newEs });
    expect((await v.verify(fresh)).subject).toBe('new');
    expect(issuer.requests.jwks).toBe(2);
  });

  it('drops cached tokens whose key left the JWKS, after the refetch', async () => {
    const v = make({ jwks: { cooldownMs: 1_000 } });
    const old = issuer.keys().find((k) => k.alg === 'RS256')!;
    const token = await issuer.sign({ sub: 'old' }, { kid: old.kid });
    await v.verify(token);
    const [newKid] = await issuer.rotateKeys({ algorithms: ['RS256'], keepOld: false });
    // still cached: nothing told the verifier yet
    await expect(v.verify(token)).resolves.toMatchObject({ subject: 'old' });
    clock.advance(1_000);
    await v.verify(await issuer.sign({}, { kid: newKid })); // unknown kid -> refetch
    expect(await refused(v.verify(token))).toEqual({
      code: 'INVALID_TOKEN',
      reason: 'unknown_key',
    });
  });

  it('drops cached tokens when the key material of their kid changes', async () => {
    const v = make({ jwks: { refreshIntervalMs: 60_000, cooldownMs: 1_000 } });
    const rs = issuer.keys().find((k) => k.alg === 'RS256')!;
    const token = await issuer.sign({}, { kid: rs.kid });
    await v.verify(token);
    // the same kid now names another key (a misbehaving or compromised issuer)
    const es = issuer.keys().find((k) => k.alg === 'ES256')!;
    issuer.setJwksFault({ status: 200, body: { keys: [{ ...es.publicJwk, kid: rs.kid }] } });
    clock.advance(60_000);
    const refreshed = nextEvent(v, 'refreshed');
    await v.verify(token); // served from cache; starts a background refresh
    expect(await refreshed).toMatchObject({ type: 'refreshed', added: 1, removed: 3 });
    expect(await refused(v.verify(token))).toMatchObject({ reason: 'unknown_key' });
  });

  it('keeps the last good keys for maxStaleMs when the endpoint is down, then fails', async () => {
    const v = make({ jwks: { refreshIntervalMs: 60_000, cooldownMs: 5_000, maxStaleMs: 120_000 } });
    const token = await issuer.sign({}, { expiresInMs: 3_600_000 });
    await v.verify(token);
    issuer.setJwksFault('down');
    clock.advance(60_000);
    const failed = nextEvent(v, 'refresh_failed');
    await v.verify(token); // due: background refresh fails
    expect(await failed).toEqual({ type: 'refresh_failed', error: 'status', state: 'stale' });
    expect(v.status().jwks).toMatchObject({ state: 'stale', keys: 3, lastError: 'status' });
    const other = await issuer.sign({ sub: 'uncached' }, { expiresInMs: 3_600_000 });
    clock.advance(119_000);
    await expect(v.verify(other)).resolves.toMatchObject({ subject: 'uncached' });
    clock.advance(1_001);
    expect(await refused(v.verify(token))).toEqual({ code: 'JWKS_UNAVAILABLE', reason: undefined });
    expect(v.status().jwks.state).toBe('unavailable');
    issuer.setJwksFault(null);
    clock.advance(5_000);
    await expect(v.verify(token)).resolves.toBeDefined();
    expect(v.status().jwks.state).toBe('fresh');
  });

  it.each([
    ['garbage', 'not_json'],
    ['huge', 'too_large'],
    [{ status: 200, body: { keys: 'nope' } }, 'not_json'],
    [{ status: 500, body: 'boom' }, 'status'],
  ] as const)('keeps the last good keys when the endpoint returns %j', async (fault, kind) => {
    const v = make({ jwks: { refreshIntervalMs: 60_000, maxBodyBytes: 64 * 1024 } });
    const token = await issuer.sign();
    await v.verify(token);
    issuer.setJwksFault(fault);
    clock.advance(60_000);
    await v.refreshKeys().catch(() => {});
    expect(v.status().jwks).toMatchObject({ state: 'stale', lastError: kind, keys: 3 });
    await expect(v.verify(await issuer.sign({ sub: 'b' }))).resolves.toMatchObject({
      subject: 'b',
    });
  });

  it('times out a hanging JWKS endpoint on the injected clock', async () => {
    await using hanging = await hangingEndpoint();
    const v = make({ jwksUri: hanging.url, jwks: { timeoutMs: 2_000 } });
    const pending = refused(v.verify(await issuer.sign()));
    await hanging.arrived();
    await clock.advanceAsync(2_000);
    expect(await pending).toEqual({ code: 'JWKS_UNAVAILABLE', reason: undefined });
    expect(v.status().jwks).toMatchObject({ state: 'unavailable', lastError: 'timeout' });
  });

  it('fails fast with JWKS_UNAVAILABLE within the cooldown when never loaded', async () => {
    const v = make({ jwks: { cooldownMs: 10_000 } });
    issuer.setJwksFault('down');
    const token = await issuer.sign();
    await refused(v.verify(token));
    expect(await refused(v.verify(token))).toMatchObject({ code: 'JWKS_UNAVAILABLE' });
    expect(issuer.requests.jwks).toBe(1);
  });
});

/** Resolves with the verifier's next key-set event of `type` (subscribe before causing it). */
function nextEvent(v: Verifier, type: JwksEvent['type']): Promise<JwksEvent> {
  return new Promise((resolve) => {
    const subscription = v.onJwksEvent((event) => {
      if (event.type !== type) return;
      subscription.dispose();
      resolve(event);
    });
  });
}
