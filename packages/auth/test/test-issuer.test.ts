import { createServer } from 'node:http';
import { ManualClock, startHttpServer, type TestHttpServer } from '@ballast/test-utils';
import express from 'express';
import {
  createRemoteJWKSet,
  decodeJwt,
  decodeProtectedHeader,
  exportJWK,
  generateKeyPair,
  jwtVerify,
  SignJWT,
} from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authOf, requireAuth } from '../src/adapters/express.ts';
import { isAuthError } from '../src/errors.ts';
import { createTestIssuer, type TestIssuer } from '../src/testing/index.ts';
import { createVerifier, type Verifier } from '../src/verifier.ts';

const SECRET_CLIENT = {
  clientId: 'orders',
  clientSecret: 's3cret:+&',
  scopes: ['stock:read', 'stock:write'],
};

async function tokenRequest(
  issuer: TestIssuer,
  params: Record<string, string>,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> {
  const response = await fetch(issuer.tokenEndpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(params).toString(),
  });
  return { status: response.status, body: await response.json(), headers: response.headers };
}

function basic(id: string, secret: string): string {
  const encode = (v: string) => encodeURIComponent(v).replace(/%20/g, '+');
  return `Basic ${Buffer.from(`${encode(id)}:${encode(secret)}`).toString('base64')}`;
}

describe('createTestIssuer', () => {
  let issuer: TestIssuer;
  beforeAll(async () => {
    issuer = await createTestIssuer({ clients: [SECRET_CLIENT] });
  });
  afterAll(() => issuer.close());

  it('serves OIDC discovery and RFC 8414 metadata with the same document', async () => {
    expect(issuer.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const oidc = await (await fetch(issuer.discoveryUrl)).json();
    const rfc8414 = await (await fetch(issuer.metadataUrl)).json();
    expect(oidc).toEqual(rfc8414);
    expect(oidc).toMatchObject({
      issuer: issuer.url,
      jwks_uri: `${issuer.url}/jwks`,
      token_endpoint: `${issuer.url}/token`,
      grant_types_supported: ['client_credentials'],
      token_endpoint_auth_methods_supported: [
        'client_secret_basic',
        'client_secret_post',
        'private_key_jwt',
      ],
      id_token_signing_alg_values_supported: ['RS256', 'ES256', 'EdDSA'],
      scopes_supported: ['stock:read', 'stock:write'],
    });
    expect(oidc.token_endpoint_auth_signing_alg_values_supported).toContain('ES256');
  });

  it('serves public keys only, each with kid, alg and use', async () => {
    const jwks = (await (await fetch(issuer.jwksUri)).json()) as {
      keys: Record<string, unknown>[];
    };
    expect(jwks.keys.map((k) => k.alg)).toEqual(['RS256', 'ES256', 'EdDSA']);
    for (const key of jwks.keys) {
      expect(key).toMatchObject({ use: 'sig', kid: expect.any(String) });
      expect(key).not.toHaveProperty('d');
      expect(key).not.toHaveProperty('p');
    }
    expect(issuer.jwks()).toEqual(jwks);
  });

  it.each(['RS256', 'ES256', 'EdDSA'] as const)(
    'signs %s tokens that jose verifies against its JWKS over HTTP',
    async (alg) => {
      const token = await issuer.sign({ sub: 'user-1', scope: 'a b' }, { alg });
      const { payload, protectedHeader } = await jwtVerify(
        token,
        createRemoteJWKSet(new URL(issuer.jwksUri)),
        { issuer: issuer.url, audience: issuer.audience, typ: 'at+jwt', algorithms: [alg] },
      );
      expect(payload).toMatchObject({ sub: 'user-1', scope: 'a b' });
      expect(payload.exp! - payload.iat!).toBe(3600);
      const current = issuer.keys().find((k) => k.alg === alg && k.current);
      expect(protectedHeader).toEqual({ alg, kid: current?.kid, typ: 'at+jwt' });
    },
  );

  it('lets claims and header fields override or remove the defaults', async () => {
    const token = await issuer.sign(
      { exp: undefined, aud: ['x', 'y'], iss: 'https://evil.test' },
      {
        header: { typ: undefined, kid: "../../etc/passwd' OR 1=1", jku: 'https://evil.test/jwks' },
      },
    );
    expect(decodeJwt(token)).not.toHaveProperty('exp');
    expect(decodeJwt(token)).toMatchObject({ aud: ['x', 'y'], iss: 'https://evil.test' });
    const header = decodeProtectedHeader(token);
    expect(header).not.toHaveProperty('typ');
    expect(header).toMatchObject({
      kid: "../../etc/passwd' OR 1=1",
      jku: 'https://evil.test/jwks',
    });
  });

  it('refuses unknown kids and mismatched alg with INVALID_OPTIONS', async () => {
    await expect(issuer.sign({}, { kid: 'nope' })).rejects.toSatisfy((e) =>
      isAuthError(e, 'INVALID_OPTIONS'),
    );
    const rsKid = issuer.keys().find((k) => k.alg === 'RS256')!.kid;
    await expect(issuer.sign({}, { kid: rsKid, alg: 'ES256' })).rejects.toThrow(/must match key/);
  });

  describe('token endpoint', () => {
    it('issues a verifiable at+jwt for client_secret_basic', async () => {
      const { status, body, headers } = await tokenRequest(
        issuer,
        { grant_type: 'client_credentials', scope: 'stock:read' },
        { authorization: basic('orders', 's3cret:+&') },
      );
      expect(status).toBe(200);
      expect(headers.get('cache-control')).toBe('no-store');
      expect(body).toMatchObject({ token_type: 'Bearer', expires_in: 3600, scope: 'stock:read' });
      const { payload } = await jwtVerify(
        body.access_token as string,
        createRemoteJWKSet(new URL(issuer.jwksUri)),
        { issuer: issuer.url, audience: issuer.audience, typ: 'at+jwt' },
      );
      expect(payload).toMatchObject({ sub: 'orders', client_id: 'orders', scope: 'stock:read' });
      expect(payload.jti).toEqual(expect.any(String));
      expect(issuer.tokenRequests.at(-1)).toMatchObject({
        clientId: 'orders',
        authMethod: 'client_secret_basic',
        status: 200,
      });
    });

    it('accepts client_secret_post, grants every allowed scope by default and honours audience', async () => {
      const { status, body } = await tokenRequest(issuer, {
        grant_type: 'client_credentials',
        client_id: 'orders',
        client_secret: 's3cret:+&',
        audience: 'https://stock.test',
      });
      expect(status).toBe(200);
      expect(body.scope).toBe('stock:read stock:write');
      expect(decodeJwt(body.access_token as string).aud).toBe('https://stock.test');
      expect(issuer.tokenRequests.at(-1)?.authMethod).toBe('client_secret_post');
    });

    it.each([
      [
        'wrong secret',
        { grant_type: 'client_credentials' },
        { authorization: basic('orders', 'x') },
      ],
      [
        'unknown client',
        { grant_type: 'client_credentials', client_id: 'x', client_secret: 'y' },
        {},
      ],
      ['no authentication', { grant_type: 'client_credentials' }, {}],
      ['malformed Basic', { grant_type: 'client_credentials' }, { authorization: 'Basic !!!' }],
    ])(
      'answers invalid_client 401 with a Basic challenge for %s',
      async (_name, params, headers) => {
        const { status, body, headers: h } = await tokenRequest(issuer, params, headers);
        expect(status).toBe(401);
        expect(body.error).toBe('invalid_client');
        expect(body.error_description).toEqual(expect.any(String));
        expect(h.get('www-authenticate')).toMatch(/^Basic /);
      },
    );

    it.each([
      ['invalid_scope', { grant_type: 'client_credentials', scope: 'stock:read admin' }],
      ['unsupported_grant_type', { grant_type: 'password' }],
      ['invalid_request', {}],
    ])('answers %s with 400', async (error, params) => {
      const { status, body } = await tokenRequest(issuer, params, {
        authorization: basic('orders', 's3cret:+&'),
      });
      expect(status).toBe(400);
      expect(body.error).toBe(error);
    });

    it('refuses two authentication methods, repeated parameters, JSON bodies and GET', async () => {
      const twoMethods = await tokenRequest(
        issuer,
        { grant_type: 'client_credentials', client_id: 'orders', client_secret: 's3cret:+&' },
        { authorization: basic('orders', 's3cret:+&') },
      );
      expect([twoMethods.status, twoMethods.body.error]).toEqual([400, 'invalid_request']);

      const repeated = await fetch(issuer.tokenEndpoint, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          authorization: basic('orders', 's3cret:+&'),
        },
        body: 'grant_type=client_credentials&scope=stock:read&scope=stock:write',
      });
      expect([repeated.status, (await repeated.json()).error]).toEqual([400, 'invalid_request']);

      const json = await fetch(issuer.tokenEndpoint, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{}',
      });
      expect(json.status).toBe(400);
      const get = await fetch(issuer.tokenEndpoint);
      expect([get.status, get.headers.get('allow')]).toEqual([405, 'POST']);
    });

    it('refuses audiences the client is not registered for with invalid_target', async () => {
      issuer.registerClient({
        clientId: 'narrow',
        clientSecret: 'n',
        audiences: ['https://only.test'],
      });
      const refused = await tokenRequest(
        issuer,
        { grant_type: 'client_credentials', resource: 'https://other.test' },
        { authorization: basic('narrow', 'n') },
      );
      expect([refused.status, refused.body.error]).toEqual([400, 'invalid_target']);
      const granted = await tokenRequest(
        issuer,
        { grant_type: 'client_credentials', resource: 'https://only.test' },
        { authorization: basic('narrow', 'n') },
      );
      expect(granted.status).toBe(200);
      expect(granted.body).not.toHaveProperty('scope');
    });
  });

  describe('private_key_jwt', () => {
    async function assertion(
      key: CryptoKey,
      claims: Record<string, unknown> = {},
      alg = 'ES256',
    ): Promise<string> {
      const now = Math.floor(Date.now() / 1000);
      return new SignJWT({
        jti: crypto.randomUUID(),
        iss: 'signer',
        sub: 'signer',
        aud: issuer.tokenEndpoint,
        iat: now,
        exp: now + 60,
        ...claims,
      })
        .setProtectedHeader({ alg })
        .sign(key);
    }

    it('accepts an assertion signed by the registered key, once', async () => {
      const { publicKey, privateKey } = await generateKeyPair('ES256');
      issuer.registerClient({
        clientId: 'signer',
        publicKey: await exportJWK(publicKey),
        scopes: ['x'],
      });
      const jwt = await assertion(privateKey);
      const params = {
        grant_type: 'client_credentials',
        client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
        client_assertion: jwt,
      };
      const first = await tokenRequest(issuer, params);
      expect(first.status).toBe(200);
      expect(decodeJwt(first.body.access_token as string).sub).toBe('signer');
      expect(issuer.tokenRequests.at(-1)?.authMethod).toBe('private_key_jwt');
      const replay = await tokenRequest(issuer, params);
      expect([replay.status, replay.body.error]).toEqual([401, 'invalid_client']);
      expect(replay.body.error_description).toMatch(/already used/);
    });

    it('refuses an assertion signed by another key, for another audience, or of the wrong type', async () => {
      const registered = await generateKeyPair('ES256');
      const other = await generateKeyPair('ES256');
      issuer.registerClient({ clientId: 'signer', publicKey: registered.publicKey });
      const type = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
      const wrongKey = await tokenRequest(issuer, {
        grant_type: 'client_credentials',
        client_assertion_type: type,
        client_assertion: await assertion(other.privateKey),
      });
      expect([wrongKey.status, wrongKey.body.error]).toEqual([401, 'invalid_client']);
      const wrongAud = await tokenRequest(issuer, {
        grant_type: 'client_credentials',
        client_assertion_type: type,
        client_assertion: await assertion(registered.privateKey, { aud: 'https://elsewhere.test' }),
      });
      expect([wrongAud.status, wrongAud.body.error]).toEqual([401, 'invalid_client']);
      const wrongType = await tokenRequest(issuer, {
        grant_type: 'client_credentials',
        client_assertion_type: 'urn:other',
        client_assertion: await assertion(registered.privateKey),
      });
      expect([wrongType.status, wrongType.body.error]).toEqual([400, 'invalid_request']);
      const notJwt = await tokenRequest(issuer, {
        grant_type: 'client_credentials',
        client_assertion_type: type,
        client_assertion: 'not-a-jwt',
      });
      expect([notJwt.status, notJwt.body.error]).toEqual([401, 'invalid_client']);
    });
  });
});

describe('createTestIssuer key rotation', () => {
  it('rotates to a new current key, keeping or dropping the old one', async () => {
    await using issuer = await createTestIssuer({ algorithms: ['ES256'] });
    const jwks = createRemoteJWKSet(new URL(issuer.jwksUri), { cooldownDuration: 0 });
    const oldToken = await issuer.sign({ sub: 'a' });
    const [oldKid] = issuer.keys().map((k) => k.kid);

    const [newKid] = await issuer.rotateKeys();
    expect(newKid).not.toBe(oldKid);
    expect(issuer.jwks().keys.map((k) => k.kid)).toEqual([oldKid, newKid]);
    const newToken = await issuer.sign({ sub: 'b' });
    expect(decodeProtectedHeader(newToken).kid).toBe(newKid);
    await expect(jwtVerify(newToken, jwks)).resolves.toBeDefined();
    await expect(jwtVerify(oldToken, jwks)).resolves.toBeDefined();

    await issuer.rotateKeys({ keepOld: false });
    const kids = issuer.jwks().keys.map((k) => k.kid);
    expect(kids).toHaveLength(1);
    expect(kids).not.toContain(newKid);
    await expect(jwtVerify(newToken, createRemoteJWKSet(new URL(issuer.jwksUri)))).rejects.toThrow(
      /no applicable key/,
    );
    expect(issuer.keys()).toHaveLength(3);
  });

  it('removes a key from the JWKS but can still sign with it', async () => {
    await using issuer = await createTestIssuer({ algorithms: ['EdDSA'] });
    const [kid] = issuer.keys().map((k) => k.kid);
    issuer.removeKey(kid!);
    expect(issuer.jwks().keys).toEqual([]);
    const token = await issuer.sign({}, { kid: kid! });
    expect(decodeProtectedHeader(token).kid).toBe(kid);
    expect(() => issuer.removeKey('nope')).toThrow(/option "kid" must name a key/);
  });
});

describe('createTestIssuer keys that survive a restart', () => {
  it('exports its private keys and signs with them again when given back', async () => {
    const first = await createTestIssuer({ algorithms: ['RS256', 'EdDSA'] });
    await first.rotateKeys({ algorithms: ['EdDSA'] });
    const token = await first.sign({ sub: 'kept' }, { alg: 'EdDSA' });
    const exported = await first.exportKeys();
    const currentKids = first
      .keys()
      .filter((k) => k.current)
      .map((k) => k.kid);
    await first.close();
    expect(exported).toHaveLength(3);
    for (const jwk of exported) expect(jwk).toHaveProperty('d');

    await using second = await createTestIssuer({ algorithms: ['ES256'], keys: exported });
    expect(
      second
        .keys()
        .filter((k) => k.current)
        .map((k) => k.kid)
        .sort(),
    ).toEqual([...currentKids, second.keys().find((k) => k.alg === 'ES256')!.kid].sort());
    for (const jwk of second.jwks().keys) expect(jwk).not.toHaveProperty('d');
    const { payload } = await jwtVerify(token, createRemoteJWKSet(new URL(second.jwksUri)));
    expect(payload.sub).toBe('kept');
    const again = await second.sign({}, { alg: 'EdDSA' });
    expect(decodeProtectedHeader(again).kid).toBe(decodeProtectedHeader(token).kid);
  });

  it.each([
    ['a public key', 'keys.0.d', async () => exportJWK((await generateKeyPair('ES256')).publicKey)],
    [
      'an unsupported alg',
      'keys.0.alg',
      async () => ({ kty: 'oct', k: 'AAAA', d: 'x', alg: 'HS256' }),
    ],
    [
      'a broken key',
      'keys',
      async () => ({ kty: 'EC', crv: 'P-256', x: 'AA', y: 'AA', d: 'AA', alg: 'ES256' }),
    ],
  ])('refuses %s with INVALID_OPTIONS naming %s', async (_name, option, make) => {
    const key = await make();
    const error = await createTestIssuer({ keys: [{ alg: 'ES256', ...key } as never] }).catch(
      (e: unknown) => e,
    );
    expect(isAuthError(error, 'INVALID_OPTIONS')).toBe(true);
    expect((error as Error).message).toContain(`"${option}`);
  });
});

describe('createTestIssuer options', () => {
  it('uses the injected clock, an issuer path and a public URL', async () => {
    const clock = new ManualClock(1_700_000_000_000);
    await using issuer = await createTestIssuer({
      clock,
      path: '/realms/test',
      algorithms: ['ES256'],
      tokenTtlMs: 60_000,
    });
    expect(issuer.url).toBe(`${issuer.origin}/realms/test`);
    expect(issuer.metadataUrl).toBe(
      `${issuer.origin}/.well-known/oauth-authorization-server/realms/test`,
    );
    const metadata = await (await fetch(issuer.metadataUrl)).json();
    expect(metadata.jwks_uri).toBe(`${issuer.url}/jwks`);
    expect((await fetch(issuer.discoveryUrl)).status).toBe(200);
    expect((await fetch(issuer.jwksUri)).status).toBe(200);
    clock.advance(5_000);
    expect(decodeJwt(await issuer.sign())).toMatchObject({
      iat: 1_700_000_005,
      exp: 1_700_000_065,
    });

    await using proxied = await createTestIssuer({
      algorithms: ['ES256'],
      publicUrl: 'https://auth.example.test',
    });
    expect(proxied.url).toBe('https://auth.example.test');
    expect(decodeJwt(await proxied.sign()).iss).toBe('https://auth.example.test');
  });

  it.each([
    [{ algorithms: ['HS256'] }, 'algorithms.0'],
    [{ algorithms: [] }, 'algorithms'],
    [{ defaultAlgorithm: 'EdDSA', algorithms: ['RS256'] }, 'defaultAlgorithm'],
    [{ clients: [{ clientId: 'x' }] }, 'clients.0'],
    [{ clients: [{ clientId: 'x', clientSecret: 'y', scopes: ['a b'] }] }, 'clients.0.scopes.0'],
    [{ tokenTtlMs: -1 }, 'tokenTtlMs'],
    [{ path: 'no-slash' }, 'path'],
    [{ clock: {} }, 'clock'],
    [{ audience: '' }, 'audience'],
    [{ host: '' }, 'host'],
    [{ port: 70_000 }, 'port'],
    [{ publicUrl: 'ftp://auth.example.test' }, 'publicUrl'],
  ])('refuses %j with INVALID_OPTIONS naming %s', async (options, name) => {
    const error = await createTestIssuer(options as never).catch((e: unknown) => e);
    expect(isAuthError(error, 'INVALID_OPTIONS')).toBe(true);
    expect((error as Error).message).toContain(`"${name}"`);
  });

  it('refuses bad faults and bad client registrations', async () => {
    await using issuer = await createTestIssuer({ algorithms: ['ES256'] });
    expect(() => issuer.setFault('jwks', 'explode' as never)).toThrow(/must be one of "down"/);
    expect(() => issuer.setFault('nope' as never, 'down')).toThrow(
      /option "endpoint" must be one of/,
    );
    expect(() => issuer.setFault('jwks', 'down', { times: 0 })).toThrow(/times/);
    expect(() => issuer.registerClient({ clientId: '' })).toThrow(/clientId/);
  });
});

describe('createTestIssuer faults and counters', () => {
  let issuer: TestIssuer;
  beforeAll(async () => {
    issuer = await createTestIssuer({ algorithms: ['ES256'], clients: [SECRET_CLIENT] });
  });
  afterAll(() => issuer.close());

  it('counts requests per endpoint and resets', async () => {
    issuer.resetRequestCounts();
    await fetch(issuer.jwksUri);
    await fetch(issuer.jwksUri);
    await fetch(issuer.discoveryUrl);
    await tokenRequest(issuer, { grant_type: 'client_credentials' });
    expect(issuer.requests).toEqual({ metadata: 1, jwks: 2, token: 1 });
    expect(issuer.tokenRequests).toHaveLength(1);
    issuer.resetRequestCounts();
    expect(issuer.requests).toEqual({ metadata: 0, jwks: 0, token: 0 });
    expect(issuer.tokenRequests).toEqual([]);
    expect((await fetch(`${issuer.url}/elsewhere`)).status).toBe(404);
  });

  it('answers 503 while down, then recovers after `times`', async () => {
    issuer.setJwksFault('down', { times: 2 });
    expect((await fetch(issuer.jwksUri)).status).toBe(503);
    const second = await fetch(issuer.jwksUri);
    expect([second.status, (await second.json()).error]).toEqual([503, 'temporarily_unavailable']);
    expect((await fetch(issuer.jwksUri)).status).toBe(200);
  });

  it('serves garbage, huge bodies, custom statuses and resets', async () => {
    issuer.setJwksFault('garbage');
    await expect((await fetch(issuer.jwksUri)).json()).rejects.toThrow();
    issuer.setJwksFault('huge');
    expect((await (await fetch(issuer.jwksUri)).text()).length).toBeGreaterThan(5_000_000);
    issuer.setFault('token', { status: 500, body: { error: 'server_error' } }, { times: 1 });
    const failed = await tokenRequest(issuer, {});
    expect([failed.status, failed.body]).toEqual([500, { error: 'server_error' }]);
    issuer.setFault('metadata', 'reset');
    await expect(fetch(issuer.discoveryUrl)).rejects.toThrow();
    issuer.setFault('metadata', { delayMs: 5 });
    expect((await fetch(issuer.discoveryUrl)).status).toBe(200);
    issuer.setFault('metadata', null);
    issuer.setJwksFault(null);
    expect((await fetch(issuer.jwksUri)).status).toBe(200);
  });

  it('hangs until closed', async () => {
    const hanging = await createTestIssuer({ algorithms: ['ES256'] });
    hanging.setJwksFault('hang');
    const pending = fetch(hanging.jwksUri);
    await expect.poll(() => hanging.requests.jwks).toBe(1);
    await hanging.close();
    await expect(pending).rejects.toThrow();
    await hanging.close();
  });
});

// The README's testing recipe, as it runs: a user's Express service tested against the issuer.
describe('README testing recipe: an Express orders service', () => {
  function createApp(verifier: Verifier) {
    const app = express();
    app.get('/orders', requireAuth(verifier, { scopes: ['orders:read'] }), (req, res) => {
      res.json({ user: authOf(req)?.subject });
    });
    return app;
  }

  let issuer: TestIssuer;
  let verifier: Verifier;
  let server: TestHttpServer;
  beforeAll(async () => {
    issuer = await createTestIssuer();
    verifier = createVerifier({
      issuer: issuer.url,
      audience: issuer.audience,
      discovery: true,
      algorithms: ['RS256'],
    });
    server = await startHttpServer(createServer(createApp(verifier)));
  });
  afterAll(async () => {
    await server.close();
    verifier.close();
    await issuer.close();
  });

  const get = (token: string) =>
    fetch(`${server.url}/orders`, { headers: { authorization: `Bearer ${token}` } });

  it('200 for a token with the scope', async () => {
    const res = await get(await issuer.sign({ sub: 'user-1', scope: 'orders:read' }));
    expect([res.status, await res.json()]).toEqual([200, { user: 'user-1' }]);
  });

  it('403 insufficient_scope without it', async () => {
    const res = await get(await issuer.sign({ sub: 'user-1', scope: 'profile' }));
    expect(res.status).toBe(403);
    expect(res.headers.get('www-authenticate')).toMatch(/insufficient_scope/);
  });

  it('401 invalid_token for an expired token or another audience', async () => {
    const expired = await issuer.sign({
      scope: 'orders:read',
      exp: Math.floor(Date.now() / 1000) - 60,
    });
    expect((await get(expired)).status).toBe(401);
    const elsewhere = await issuer.sign({ scope: 'orders:read', aud: 'https://other.test' });
    const res = await get(elsewhere);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/invalid_token/);
  });
});
