import { flushMicrotasks, ManualClock } from '@ballast/test-utils';
import { type OtelTestSdk, otelTestSdk } from '@ballast/test-utils/otel';
import { createRemoteJWKSet, decodeJwt, exportJWK, generateKeyPair, jwtVerify } from 'jose';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { clientCredentials } from '../src/client-credentials.ts';
import { isAuthError, TokenRequestError } from '../src/errors.ts';
import { createTestIssuer, type TestIssuer } from '../src/testing/index.ts';
import { hangingEndpoint } from './hanging-endpoint.ts';

/** A ManualClock that remembers every delay it was asked to wait for, and tells who waits for one. */
class RecordingClock extends ManualClock {
  readonly delays: number[] = [];
  readonly #waiters: { ms: number; resolve: () => void }[] = [];
  override setTimeout(callback: () => void, ms: number): number {
    this.delays.push(ms);
    for (const w of this.#waiters.filter((w) => w.ms === ms)) {
      this.#waiters.splice(this.#waiters.indexOf(w), 1);
      w.resolve();
    }
    return super.setTimeout(callback, ms);
  }
  /** Resolves once a timer of `ms` has been scheduled (at once if one already was). */
  scheduled(ms: number): Promise<void> {
    if (this.delays.includes(ms)) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push({ ms, resolve }));
  }
}

const CLIENT = {
  clientId: 'orders',
  clientSecret: 'orders-secret',
  scopes: ['stock:read', 'stock:write'],
};

describe('clientCredentials', () => {
  let issuer: TestIssuer;
  let clock: RecordingClock;
  const sources: { close(): Promise<void> }[] = [];

  beforeAll(async () => {
    issuer = await createTestIssuer({
      algorithms: ['ES256'],
      clients: [CLIENT],
      tokenTtlMs: 600_000,
    });
  });
  afterEach(async () => {
    issuer.setFault('token', null);
    issuer.setFault('metadata', null);
    issuer.resetRequestCounts();
    await Promise.all(sources.splice(0).map((s) => s.close()));
  });
  afterAll(() => issuer.close());

  function source(options: Partial<Parameters<typeof clientCredentials>[0]> = {}) {
    clock = new RecordingClock(Date.now());
    const created = clientCredentials({
      tokenEndpoint: issuer.tokenEndpoint,
      clientId: 'orders',
      clientSecret: 'orders-secret',
      clock,
      random: () => 0.5,
      ...options,
    });
    sources.push(created);
    return created;
  }

  it('fetches a token the issuer signed, with client_secret_basic, and caches it', async () => {
    const tokens = source({ scopes: ['stock:read'] });
    const token = await tokens.getToken();
    const { payload } = await jwtVerify(token, createRemoteJWKSet(new URL(issuer.jwksUri)), {
      issuer: issuer.url,
      audience: issuer.audience,
    });
    expect(payload).toMatchObject({ sub: 'orders', scope: 'stock:read' });
    expect(await tokens.getToken()).toBe(token);
    clock.advance(500_000);
    expect(await tokens.getToken()).toBe(token);
    expect(issuer.requests.token).toBe(1);
    expect(issuer.tokenRequests[0]).toMatchObject({
      authMethod: 'client_secret_basic',
      scope: 'stock:read',
      status: 200,
    });
  });

  it('sends client_secret_post, audience, resource and extra parameters when asked', async () => {
    const tokens = source({
      authMethod: 'client_secret_post',
      audience: 'https://stock.test',
      scopes: ['stock:write'],
      extraParams: { purpose: 'test' },
    });
    expect(decodeJwt(await tokens.getToken())).toMatchObject({
      aud: 'https://stock.test',
      scope: 'stock:write',
    });
    expect(issuer.tokenRequests[0]?.authMethod).toBe('client_secret_post');
  });

  it('shares one request between 100 concurrent callers', async () => {
    const tokens = source();
    const all = await Promise.all(Array.from({ length: 100 }, () => tokens.getToken()));
    expect(new Set(all).size).toBe(1);
    expect(issuer.requests.token).toBe(1);
  });

  it('refreshes ahead of expiry with jitter, in the background, serving the cached token meanwhile', async () => {
    // 600 s token, refreshAheadMs 60 s, jitter 0.5, random 0.5: refresh at 600 - 60 - 15 = 525 s.
    const tokens = source({ refreshAheadMs: 60_000, jitter: 0.5 });
    const first = await tokens.getToken();
    clock.advance(524_999);
    expect(await tokens.getToken()).toBe(first);
    expect(issuer.requests.token).toBe(1);
    clock.advance(1);
    const during = await Promise.all([tokens.getToken(), tokens.getToken()]);
    expect(during).toEqual([first, first]);
    await expect.poll(() => issuer.requests.token).toBe(2);
    await expect.poll(() => tokens.getToken()).not.toBe(first);
    expect(issuer.requests.token).toBe(2);
  });

  it('spreads refreshes with the injected random number', async () => {
    // random ~1 → refresh at 600 - 100 - 100 = 400 s; random 0 → at 600 - 100 = 500 s.
    const fetchesAt = async (random: number, elapsedMs: number) => {
      let fetches = 0;
      const tokens = source({
        refreshAheadMs: 100_000,
        jitter: 1,
        random: () => random,
        fetch: (url, init) => {
          fetches++;
          return fetch(url, init);
        },
      });
      await tokens.getToken();
      clock.advance(elapsedMs);
      await tokens.getToken();
      await flushMicrotasks();
      return fetches - 1;
    };
    expect(await fetchesAt(0.999, 399_999)).toBe(0);
    expect(await fetchesAt(0.999, 400_200)).toBe(1);
    expect(await fetchesAt(0, 499_999)).toBe(0);
    expect(await fetchesAt(0, 500_000)).toBe(1);
  });

  it('caps the refresh-ahead at half the lifetime of short tokens', async () => {
    issuer.registerClient({ ...CLIENT, clientId: 'short', tokenTtlMs: 10_000 });
    const tokens = source({ clientId: 'short', refreshAheadMs: 60_000, jitter: 0 });
    const first = await tokens.getToken();
    clock.advance(4_999);
    expect(await tokens.getToken()).toBe(first);
    expect(issuer.requests.token).toBe(1);
    clock.advance(1);
    await tokens.getToken();
    await expect.poll(() => issuer.requests.token).toBe(2);
  });

  it('fetches a new token once the cached one expired, and after invalidate()', async () => {
    const tokens = source({ refreshAheadMs: 0 });
    const first = await tokens.getToken();
    clock.advance(600_000);
    const second = await tokens.getToken();
    expect(second).not.toBe(first);
    tokens.invalidate(first);
    expect(await tokens.getToken()).toBe(second);
    tokens.invalidate(second);
    const third = await tokens.getToken();
    expect(third).not.toBe(second);
    tokens.invalidate();
    await tokens.getToken();
    expect(issuer.requests.token).toBe(4);
  });

  it('retries 5xx answers with exponential backoff, then succeeds', async () => {
    issuer.setFault(
      'token',
      { status: 503, body: { error: 'temporarily_unavailable' } },
      { times: 2 },
    );
    const tokens = source({ retry: { attempts: 3, baseDelayMs: 100, maxDelayMs: 1_000 } });
    const pending = tokens.getToken();
    // random 0.5 → 75 % of 100, then of 200.
    await clock.scheduled(75);
    clock.advance(75);
    await clock.scheduled(150);
    clock.advance(150);
    expect(decodeJwt(await pending).sub).toBe('orders');
    expect(issuer.requests.token).toBe(3);
  });

  it('retries network errors, and gives up after `attempts` with the last error', async () => {
    issuer.setFault('token', 'reset');
    const tokens = source({ retry: { attempts: 2, baseDelayMs: 10, maxDelayMs: 10 } });
    const pending = tokens.getToken().catch((e: unknown) => e);
    await clock.scheduled(8);
    clock.advance(8);
    const error = (await pending) as TokenRequestError;
    expect(error).toBeInstanceOf(TokenRequestError);
    expect(error).toMatchObject({ code: 'TOKEN_REQUEST_FAILED', failure: 'network', attempts: 2 });
    expect(issuer.requests.token).toBe(2);
  });

  it('gives up on a 5xx after all attempts, reporting the status', async () => {
    issuer.setFault('token', { status: 500 });
    const tokens = source({ retry: { attempts: 1 } });
    const error = await tokens.getToken().catch((e: unknown) => e);
    expect(error).toMatchObject({ failure: 'http_status', status: 500, error: undefined });
    expect((error as Error).message).toMatch(/HTTP 500/);
  });

  it.each([
    ['invalid_client', 401, { clientSecret: 'wrong' }],
    ['invalid_scope', 400, { scopes: ['admin'] }],
    ['invalid_client', 401, { clientId: 'nobody' }],
  ])(
    'does not retry %s (%i) and surfaces the RFC 6749 error body',
    async (code, status, options) => {
      const tokens = source({ ...options, retry: { attempts: 5, baseDelayMs: 1 } });
      const error = await tokens.getToken().catch((e: unknown) => e);
      expect(isAuthError(error, 'TOKEN_REQUEST_FAILED')).toBe(true);
      expect(error).toMatchObject({ failure: 'oauth_error', status, error: code, attempts: 1 });
      expect((error as TokenRequestError).errorDescription).toEqual(expect.any(String));
      expect((error as Error).message).toContain(code);
      expect((error as Error).message).not.toContain('orders-secret');
      expect(issuer.requests.token).toBe(1);
    },
  );

  it.each([
    [
      'a non-bearer token_type',
      { status: 200, body: { access_token: 'x', token_type: 'mac', expires_in: 60 } },
    ],
    ['no access_token', { status: 200, body: { token_type: 'Bearer', expires_in: 60 } }],
    [
      'a negative expires_in',
      { status: 200, body: { access_token: 'x', token_type: 'Bearer', expires_in: -1 } },
    ],
    ['a body that is not JSON', 'garbage'],
    ['a huge body', 'huge'],
  ] as const)('refuses a 200 answer with %s, without retrying', async (_name, fault) => {
    issuer.setFault('token', fault as never);
    const tokens = source();
    const error = await tokens.getToken().catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'TOKEN_REQUEST_FAILED', failure: 'invalid_response' });
    expect(issuer.requests.token).toBe(1);
  });

  it('caches an answer without expires_in for the lifetime its JWT states', async () => {
    const jwt = await issuer.sign({}, { expiresInMs: 120_000 });
    issuer.setFault(
      'token',
      { status: 200, body: { access_token: jwt, token_type: 'bearer' } },
      { times: 1 },
    );
    const tokens = source({ refreshAheadMs: 0 });
    expect(await tokens.getToken()).toBe(jwt);
    // The JWT's exp counts from when the issuer signed it (whole seconds, real time), a little
    // after this clock started: the lifetime is 119–121 s, depending on the machine's load.
    clock.advance(118_000);
    expect(await tokens.getToken()).toBe(jwt);
    clock.advance(5_000);
    expect(await tokens.getToken()).not.toBe(jwt);
  });

  it('times out a hanging request on the injected clock and retries it', async () => {
    issuer.setFault('token', 'hang', { times: 1 });
    const tokens = source({ timeoutMs: 2_000, retry: { attempts: 2, baseDelayMs: 100 } });
    const pending = tokens.getToken();
    await expect.poll(() => issuer.requests.token).toBe(1);
    clock.advance(2_000);
    await clock.scheduled(75);
    clock.advance(75);
    expect(await pending).toEqual(expect.any(String));
    expect(issuer.requests.token).toBe(2);
  });

  it('reports a timeout once attempts run out', async () => {
    await using hanging = await hangingEndpoint('/token');
    const tokens = source({ tokenEndpoint: hanging.url, timeoutMs: 1_000, retry: { attempts: 1 } });
    const pending = tokens.getToken().catch((e: unknown) => e);
    await hanging.arrived();
    clock.advance(1_000);
    expect(await pending).toMatchObject({ failure: 'timeout', code: 'TOKEN_REQUEST_FAILED' });
  });

  it('rejects an aborted caller with ABORTED; the last waiter cancels the request', async () => {
    issuer.setFault('token', 'hang', { times: 1 });
    const tokens = source();
    const controller = new AbortController();
    const pending = tokens.getToken({ signal: controller.signal }).catch((e: unknown) => e);
    await expect.poll(() => issuer.requests.token).toBe(1);
    controller.abort();
    expect(isAuthError(await pending, 'ABORTED')).toBe(true);
    await expect.poll(() => clock.pending).toBe(0);
    expect(await tokens.getToken()).toEqual(expect.any(String));
    const already = await tokens.getToken({ signal: AbortSignal.abort() }).catch((e: unknown) => e);
    expect(isAuthError(already, 'ABORTED')).toBe(true);
  });

  it('keeps a shared request going when only one of its callers aborts', async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => (release = resolve));
    const tokens = source({
      fetch: async (url, init) => {
        await gate;
        return fetch(url, init);
      },
    });
    const controller = new AbortController();
    const quitter = tokens.getToken({ signal: controller.signal }).catch((e: unknown) => e);
    const stayer = tokens.getToken({ signal: new AbortController().signal });
    controller.abort();
    expect(isAuthError(await quitter, 'ABORTED')).toBe(true);
    release();
    expect(await stayer).toEqual(expect.any(String));
    expect(issuer.requests.token).toBe(1);
  });

  it('close() cancels a running request and refuses later calls', async () => {
    await using hanging = await hangingEndpoint('/token');
    const tokens = source({ tokenEndpoint: hanging.url });
    const pending = tokens.getToken().catch((e: unknown) => e);
    await hanging.arrived();
    await tokens.close();
    const cancelled = await pending;
    expect(isAuthError(cancelled, 'CLOSED')).toBe(true);
    const later = await tokens.getToken().catch((e: unknown) => e);
    expect(isAuthError(later, 'CLOSED')).toBe(true);
    expect((later as Error).message).toMatch(/closed/);
    await tokens.close(); // idempotent
  });

  describe('discovery', () => {
    it('finds the token endpoint from the issuer metadata once', async () => {
      const tokens = source({ tokenEndpoint: undefined, issuer: issuer.url });
      await tokens.getToken();
      tokens.invalidate();
      await tokens.getToken();
      expect(issuer.requests).toMatchObject({ metadata: 1, token: 2 });
    });

    it('retries metadata that is down, and fails with DISCOVERY_FAILED', async () => {
      issuer.setFault('metadata', 'down');
      const tokens = source({
        tokenEndpoint: undefined,
        issuer: issuer.url,
        retry: { attempts: 2, baseDelayMs: 10 },
      });
      const pending = tokens.getToken().catch((e: unknown) => e);
      await clock.scheduled(8);
      clock.advance(8);
      const error = await pending;
      expect(isAuthError(error, 'DISCOVERY_FAILED')).toBe(true);
      expect((error as Error).message).toMatch(/503/);
      expect(issuer.requests.metadata).toBe(4);
    });

    it('refuses metadata naming another issuer', async () => {
      await using other = await createTestIssuer({
        algorithms: ['ES256'],
        publicUrl: 'https://impostor.test',
      });
      const tokens = source({ tokenEndpoint: undefined, issuer: `http://127.0.0.1:${other.port}` });
      const error = await tokens.getToken().catch((e: unknown) => e);
      expect(isAuthError(error, 'DISCOVERY_FAILED')).toBe(true);
      expect((error as Error).message).toMatch(/impostor/);
      expect(other.requests.metadata).toBe(1);
    });
  });

  describe('private_key_jwt', () => {
    it.each(['ES256', 'RS256', 'EdDSA'] as const)(
      'authenticates with an %s assertion the issuer verifies',
      async (alg) => {
        const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
        issuer.registerClient({ clientId: `jwt-${alg}`, publicKey, scopes: ['stock:read'] });
        const tokens = source({
          clientId: `jwt-${alg}`,
          clientSecret: undefined,
          privateKeyJwt: {
            key: alg === 'EdDSA' ? await exportJWK(privateKey) : privateKey,
            alg,
            kid: 'k1',
          },
        });
        expect(decodeJwt(await tokens.getToken()).sub).toBe(`jwt-${alg}`);
        tokens.invalidate();
        await tokens.getToken();
        expect(issuer.tokenRequests.map((r) => [r.authMethod, r.status])).toEqual([
          ['private_key_jwt', 200],
          ['private_key_jwt', 200],
        ]);
      },
    );

    it('fails with INVALID_OPTIONS when the key cannot sign the algorithm, without a request', async () => {
      const { privateKey } = await generateKeyPair('ES256');
      const tokens = source({
        clientSecret: undefined,
        privateKeyJwt: { key: privateKey, alg: 'RS256' },
      });
      const error = await tokens.getToken().catch((e: unknown) => e);
      expect(isAuthError(error, 'INVALID_OPTIONS')).toBe(true);
      expect((error as Error).message).toContain('"privateKeyJwt.key"');
      const jwk = source({
        clientSecret: undefined,
        privateKeyJwt: {
          key: { kty: 'EC', crv: 'P-256', x: 'AA', y: 'AA', d: 'AA' },
          alg: 'ES256',
        },
      });
      expect(isAuthError(await jwk.getToken().catch((e: unknown) => e), 'INVALID_OPTIONS')).toBe(
        true,
      );
      expect(issuer.requests.token).toBe(0);
    });

    it('is refused (invalid_client) when signed by a key the issuer does not know', async () => {
      const registered = await generateKeyPair('ES256');
      const other = await generateKeyPair('ES256');
      issuer.registerClient({ clientId: 'jwt-wrong', publicKey: registered.publicKey });
      const tokens = source({
        clientId: 'jwt-wrong',
        clientSecret: undefined,
        privateKeyJwt: { key: other.privateKey, alg: 'ES256' },
      });
      await expect(tokens.getToken()).rejects.toMatchObject({
        error: 'invalid_client',
        status: 401,
      });
    });
  });

  describe('telemetry', () => {
    let sdk: OtelTestSdk;
    beforeAll(() => {
      sdk = otelTestSdk();
    });
    afterAll(() => sdk.shutdown());

    /** Sum of a counter's points, keyed by the value of one attribute. */
    async function counter(name: string, attribute: string): Promise<Record<string, number>> {
      const out: Record<string, number> = {};
      for (const point of await sdk.metricPoints(name)) {
        const key = String(point.attributes[attribute]);
        out[key] = (out[key] ?? 0) + (point.value as number);
      }
      return out;
    }

    it('counts cache hits, refresh-ahead and misses, and fetches by outcome', async () => {
      const tokens = source({ refreshAheadMs: 60_000, jitter: 0 });
      await tokens.getToken();
      await tokens.getToken();
      clock.advance(540_000);
      await tokens.getToken();
      await expect.poll(() => issuer.requests.token).toBe(2);
      expect(await counter('ballast.auth.token.cache', 'ballast.auth.cache')).toEqual({
        miss: 1,
        hit: 1,
        refresh_ahead: 1,
      });
      await expect
        .poll(() => counter('ballast.auth.token.fetches', 'ballast.auth.outcome'))
        .toEqual({ success: 2 });
    });

    it('records a span per token request with the outcome, never the token or secret', async () => {
      sdk.reset();
      const tokens = source();
      const token = await tokens.getToken();
      issuer.setFault('token', { status: 400, body: { error: 'invalid_request' } });
      tokens.invalidate();
      await tokens.getToken().catch(() => {});
      const spans = sdk.finishedSpans().filter((s) => s.name === 'ballast.auth.client_credentials');
      expect(spans.map((s) => s.attributes)).toEqual([
        expect.objectContaining({ 'ballast.auth.outcome': 'success', 'ballast.auth.attempts': 1 }),
        expect.objectContaining({
          'ballast.auth.outcome': 'failure',
          'ballast.auth.oauth_error': 'invalid_request',
          'http.response.status_code': 400,
        }),
      ]);
      const dump = JSON.stringify(spans.map((s) => [s.attributes, s.events, s.status]));
      expect(dump).not.toContain(token);
      expect(dump).not.toContain('orders-secret');
    });
  });

  describe('options', () => {
    it.each([
      [{ issuer: 'https://a.test' }, 'tokenEndpoint'],
      [{ tokenEndpoint: undefined }, 'tokenEndpoint'],
      [{ clientSecret: undefined }, 'clientSecret'],
      [{ privateKeyJwt: { key: {}, alg: 'HS256' } }, 'privateKeyJwt.alg'],
      [{ tokenEndpoint: 'http://auth.example.com/token' }, 'tokenEndpoint'],
      [{ tokenEndpoint: 'not a url' }, 'tokenEndpoint'],
      [{ clientId: '' }, 'clientId'],
      [{ scopes: ['a b'] }, 'scopes.0'],
      [{ scope: ['a'] }, 'scope'],
      [{ jitter: 2 }, 'jitter'],
      [{ refreshAheadMs: -1 }, 'refreshAheadMs'],
      [{ retry: { attempts: 0 } }, 'retry.attempts'],
      [{ timeoutMs: 0 }, 'timeoutMs'],
      [{ clock: { now: 1 } }, 'clock'],
      [{ fetch: 'fetch' }, 'fetch'],
      [{ authMethod: 'private_key_jwt' }, 'authMethod'],
      [{ tokenEndpoint: undefined, issuer: 'not a url' }, 'issuer'],
      [{ clientSecret: '' }, 'clientSecret'],
      [{ audience: '' }, 'audience'],
      [{ resource: 'not a url' }, 'resource'],
      [{ extraParams: { tenant: 1 } }, 'extraParams.tenant'],
      [{ retry: { baseDelayMs: -1 } }, 'retry.baseDelayMs'],
      [{ retry: { maxDelayMs: 1.5 } }, 'retry.maxDelayMs'],
      [{ maxBodyBytes: 10 }, 'maxBodyBytes'],
      [
        { clientSecret: undefined, privateKeyJwt: { key: null, alg: 'ES256' } },
        'privateKeyJwt.key',
      ],
      [
        { clientSecret: undefined, privateKeyJwt: { key: {}, alg: 'ES256', expiresInMs: 10 } },
        'privateKeyJwt.expiresInMs',
      ],
      [{ random: 0.5 }, 'random'],
      [{ allowInsecureHttp: 'yes' }, 'allowInsecureHttp'],
    ])('refuses %j with INVALID_OPTIONS naming %s', (override, name) => {
      let error: unknown;
      try {
        clientCredentials({
          tokenEndpoint: 'https://auth.example.com/token',
          clientId: 'c',
          clientSecret: 's',
          ...(override as object),
        });
      } catch (e) {
        error = e;
      }
      expect(isAuthError(error, 'INVALID_OPTIONS')).toBe(true);
      expect((error as Error).message).toContain(`"${name}`);
    });

    it('accepts plain http to non-loopback hosts only with allowInsecureHttp', () => {
      expect(() =>
        clientCredentials({
          tokenEndpoint: 'http://auth.internal/token',
          clientId: 'c',
          clientSecret: 's',
          allowInsecureHttp: true,
        }),
      ).not.toThrow();
    });
  });
});
