import { ManualClock, startHttpServer, type TestHttpServer } from '@ballast/test-utils';
import { exportJWK, exportSPKI, generateKeyPair, importJWK, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createVerifier, isAuthError, type Verifier } from '../src/index.ts';
import { createTestIssuer, type TestIssuer, type TestIssuerKey } from '../src/testing/index.ts';
import { apps } from './adapter-apps.ts';
import { hangingEndpoint } from './hanging-endpoint.ts';
import { get, getWithToken } from './http-client.ts';
import { issuerVerifier } from './issuer-verifier.ts';

// Every attack is sent over HTTP to the real frameworks, with keys served by a real issuer on
// 127.0.0.1, and must be answered with the right RFC 6750 error.

const clock = new ManualClock(Date.UTC(2030, 0, 1));
const nowS = () => Math.floor(clock.now() / 1000);
const b64 = (value: unknown) =>
  Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

let issuer: TestIssuer;
let rs: TestIssuerKey;
let es: TestIssuerKey;
/** A server that records every request: jku/x5u must never make the verifier call it. */
let attacker: TestHttpServer;
let attackerHits = 0;
let attackerJwk: Record<string, unknown>;
let attackerKey: CryptoKey;

beforeAll(async () => {
  issuer = await createTestIssuer({ clock });
  rs = issuer.keys().find((k) => k.alg === 'RS256')!;
  es = issuer.keys().find((k) => k.alg === 'ES256')!;
  const pair = await generateKeyPair('ES256', { extractable: true });
  attackerKey = pair.privateKey;
  attackerJwk = { ...(await exportJWK(pair.publicKey)), kid: es.kid, alg: 'ES256', use: 'sig' };
  attacker = await startHttpServer((_req, res) => {
    attackerHits++;
    res
      .writeHead(200, { 'content-type': 'application/json' })
      .end(JSON.stringify({ keys: [attackerJwk] }));
  });
});
afterAll(async () => {
  await Promise.all([issuer.close(), attacker.close()]);
});

function claims(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    iss: issuer.url,
    aud: issuer.audience,
    sub: 'victim',
    iat: nowS(),
    exp: nowS() + 600,
    ...extra,
  };
}

/** Signs header.payload by hand with an ES256 key (jose refuses to sign some of these headers). */
async function forgeEs256(
  header: Record<string, unknown>,
  payload: unknown,
  key: CryptoKey,
): Promise<string> {
  const input = `${b64(header)}.${b64(payload)}`;
  const sig = await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, key, Buffer.from(input));
  return `${input}.${Buffer.from(sig).toString('base64url')}`;
}

async function hmacWith(secret: string, kid: string): Promise<string> {
  return new SignJWT(claims())
    .setProtectedHeader({ alg: 'HS256', kid, typ: 'at+jwt' })
    .sign(new TextEncoder().encode(secret));
}

type Attack = [name: string, token: () => Promise<string>, status: number, error: string];

const attacks: Attack[] = [
  [
    'alg none',
    async () => `${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims())}.`,
    401,
    'invalid_token',
  ],
  [
    'alg none with the kid of a real key',
    async () => `${b64({ alg: 'none', kid: rs.kid })}.${b64(claims())}.`,
    401,
    'invalid_token',
  ],
  [
    'HS256 keyed with the RSA public key (PEM)',
    async () =>
      hmacWith(await exportSPKI((await importJWK(rs.publicJwk, 'RS256')) as CryptoKey), rs.kid),
    401,
    'invalid_token',
  ],
  [
    'HS256 keyed with the RSA public key (JWK)',
    async () => hmacWith(JSON.stringify(rs.publicJwk), rs.kid),
    401,
    'invalid_token',
  ],
  [
    'kid path traversal',
    () => issuer.sign({}, { kid: rs.kid, header: { kid: '../../../../etc/passwd' } }),
    401,
    'invalid_token',
  ],
  [
    'kid SQL injection',
    () => issuer.sign({}, { kid: rs.kid, header: { kid: "x' OR '1'='1" } }),
    401,
    'invalid_token',
  ],
  [
    'kid huge',
    () => issuer.sign({}, { kid: rs.kid, header: { kid: 'k'.repeat(5000) } }),
    401,
    'invalid_token',
  ],
  [
    'kid not a string',
    () => issuer.sign({}, { kid: rs.kid, header: { kid: { $ne: null } } }),
    401,
    'invalid_token',
  ],
  [
    'jku to an attacker JWKS',
    () =>
      forgeEs256({ alg: 'ES256', kid: 'evil', jku: `${attacker.url}/jwks` }, claims(), attackerKey),
    401,
    'invalid_token',
  ],
  [
    'x5u to an attacker certificate',
    () =>
      forgeEs256(
        { alg: 'ES256', kid: 'evil', x5u: `${attacker.url}/cert.pem` },
        claims(),
        attackerKey,
      ),
    401,
    'invalid_token',
  ],
  [
    'x5c certificate chain in the header',
    () =>
      forgeEs256(
        {
          alg: 'ES256',
          kid: 'evil',
          x5c: [Buffer.from('attacker certificate').toString('base64')],
        },
        claims(),
        attackerKey,
      ),
    401,
    'invalid_token',
  ],
  [
    'embedded jwk that verifies the signature, with the kid of a real key',
    () => forgeEs256({ alg: 'ES256', kid: es.kid, jwk: attackerJwk }, claims(), attackerKey),
    401,
    'invalid_token',
  ],
  [
    'unknown crit header',
    () =>
      forgeEs256(
        { alg: 'ES256', kid: es.kid, crit: ['urn:x:policy'], 'urn:x:policy': 1 },
        claims(),
        es.privateKey,
      ),
    401,
    'invalid_token',
  ],
  ['expired', () => issuer.sign({ exp: nowS() - 60 }), 401, 'invalid_token'],
  ['not yet valid', () => issuer.sign({ nbf: nowS() + 3600 }), 401, 'invalid_token'],
  ['wrong iss', () => issuer.sign({ iss: 'https://evil.example' }), 401, 'invalid_token'],
  ['wrong aud', () => issuer.sign({ aud: 'https://other-api.example' }), 401, 'invalid_token'],
  ['missing exp', () => issuer.sign({ exp: undefined }), 401, 'invalid_token'],
  ['oversized token', () => issuer.sign({ padding: 'p'.repeat(9000) }), 401, 'invalid_token'],
  [
    'bad signature',
    async () => `${(await issuer.sign()).slice(0, -6)}AAAAAA`,
    401,
    'invalid_token',
  ],
  [
    'signed by a key the issuer removed',
    async () => issuer.sign({}, { kid: removedKid }),
    401,
    'invalid_token',
  ],
  ['header not base64url-decodable', async () => `a.${b64(claims())}.c2ln`, 401, 'invalid_token'],
  ['header not JSON', async () => `${b64('{"alg":')}.${b64(claims())}.c2ln`, 401, 'invalid_token'],
  [
    'payload not JSON',
    async () => `${(await issuer.sign()).split('.')[0]}.${b64('[1,')}.c2ln`,
    401,
    'invalid_token',
  ],
  [
    'payload not JSON, validly signed',
    async () => forgeEs256({ alg: 'ES256', kid: es.kid }, '{"sub":', es.privateKey),
    401,
    'invalid_token',
  ],
  [
    'payload a JSON array',
    async () => forgeEs256({ alg: 'ES256', kid: es.kid }, [1, 2], es.privateKey),
    401,
    'invalid_token',
  ],
  ['two segments', async () => `${b64({ alg: 'ES256' })}.${b64(claims())}`, 401, 'invalid_token'],
  ['characters outside base64url', async () => 'eyJ!.eyJ$.sig', 400, 'invalid_request'],
];

let removedKid = '';

describe.each(Object.entries(apps))('attack battery against the %s adapter', (_name, start) => {
  let app: TestHttpServer;
  let verifier: Verifier;

  beforeAll(async () => {
    if (!removedKid) {
      removedKid = (await issuer.rotateKeys({ algorithms: ['ES256'] }))[0]!;
      issuer.removeKey(removedKid);
      await issuer.rotateKeys({ algorithms: ['ES256'] });
    }
    verifier = issuerVerifier(issuer, clock);
    app = await start(verifier);
    expect((await getWithToken(`${app.url}/me`, await issuer.sign())).status).toBe(200);
  });
  afterAll(async () => {
    verifier.close();
    await app.close();
  });

  it.each(attacks)('refuses %s', async (_attack, token, status, error) => {
    const res = await getWithToken(`${app.url}/me`, await token());
    expect(res.status).toBe(status);
    expect(res.headers['www-authenticate']).toMatch(
      new RegExp(`^Bearer realm="api", error="${error}"`),
    );
    expect(JSON.parse(res.body).error).toBe(error);
    expect(attackerHits).toBe(0);
  });

  it('refuses two Authorization headers', async () => {
    const token = await issuer.sign();
    const res = await get(`${app.url}/me`, [
      'authorization',
      `Bearer ${token}`,
      'Authorization',
      `Bearer ${token}`,
    ]);
    expect(res.status).toBe(400);
    expect(res.headers['www-authenticate']).toContain('error="invalid_request"');
  });
});

describe('the verifier behind the attacks', () => {
  let verifier: Verifier;
  beforeAll(() => {
    verifier = issuerVerifier(issuer, clock);
  });
  afterAll(() => verifier.close());

  async function reason(token: string): Promise<string | undefined> {
    try {
      await verifier.verify(token);
    } catch (error) {
      expect(isAuthError(error, 'INVALID_TOKEN')).toBe(true);
      return (error as { reason: string }).reason;
    }
    return undefined;
  }

  it.each([
    ['alg none', 'algorithm'],
    ['HS256 keyed with the RSA public key (PEM)', 'algorithm'],
    ['kid path traversal', 'unknown_key'],
    ['jku to an attacker JWKS', 'unknown_key'],
    ['x5c certificate chain in the header', 'unknown_key'],
    ['kid not a string', 'malformed'],
    ['embedded jwk that verifies the signature, with the kid of a real key', 'signature'],
    ['unknown crit header', 'malformed'],
    ['expired', 'expired'],
    ['not yet valid', 'not_yet_valid'],
    ['wrong iss', 'claim'],
    ['wrong aud', 'claim'],
    ['missing exp', 'claim'],
    ['oversized token', 'too_large'],
    ['header not base64url-decodable', 'malformed'],
    ['header not JSON', 'malformed'],
    ['payload not JSON', 'signature'], // the signature is checked before the payload is read
    ['payload not JSON, validly signed', 'malformed'],
    ['payload a JSON array', 'malformed'],
    ['signed by a key the issuer removed', 'unknown_key'],
  ] as const)('gives %s the stable reason', async (name, expected) => {
    const attack = attacks.find(([n]) => n === name)!;
    expect(await reason(await attack[1]())).toBe(expected);
  });

  it('never verifies HS256 with a JWKS key, even when HS256 is allowed with a secret', async () => {
    const mixed = createVerifier({
      issuer: issuer.url,
      audience: issuer.audience,
      jwksUri: issuer.jwksUri,
      algorithms: ['RS256', 'HS256'],
      secret: 'the-real-shared-secret-of-32-chars-min',
      clock,
    });
    const pem = await exportSPKI((await importJWK(rs.publicJwk, 'RS256')) as CryptoKey);
    await expect(mixed.verify(await hmacWith(pem, rs.kid))).rejects.toMatchObject({
      reason: 'signature',
    });
    mixed.close();
  });
});

describe('JWKS endpoint faults over HTTP', () => {
  async function appWith(jwks: Record<string, unknown> = {}, jwksUri = issuer.jwksUri) {
    const verifier = issuerVerifier(issuer, clock, {
      jwksUri,
      jwks: { cooldownMs: 10_000, refreshIntervalMs: 60_000, maxBodyBytes: 64 * 1024, ...jwks },
    });
    const app = await apps.express!(verifier);
    return {
      verifier,
      app,
      async [Symbol.asyncDispose]() {
        verifier.close();
        await app.close();
      },
    };
  }

  it.each(['down', 'garbage', 'huge', 'reset'] as const)(
    'answers 503 while the endpoint is %s and nothing was ever fetched',
    async (fault) => {
      await using s = await appWith();
      issuer.setJwksFault(fault);
      try {
        const res = await getWithToken(`${s.app.url}/me`, await issuer.sign());
        expect(res.status).toBe(503);
        expect(s.verifier.status().jwks.state).toBe('unavailable');
      } finally {
        issuer.setJwksFault(null);
      }
    },
  );

  it('answers 503 when the endpoint hangs past timeoutMs (on the injected clock)', async () => {
    await using hanging = await hangingEndpoint();
    await using s = await appWith({ timeoutMs: 3_000 }, hanging.url);
    const pending = getWithToken(`${s.app.url}/me`, await issuer.sign());
    await hanging.arrived();
    await clock.advanceAsync(3_000);
    expect((await pending).status).toBe(503);
    expect(s.verifier.status().jwks.lastError).toBe('timeout');
  });

  it('keeps serving with the last good keys while the endpoint is down, slow or garbled', async () => {
    await using s = await appWith();
    const token = await issuer.sign();
    expect((await getWithToken(`${s.app.url}/me`, token)).status).toBe(200);
    for (const fault of ['down', 'garbage', 'huge'] as const) {
      issuer.setJwksFault(fault);
      clock.advance(60_000);
      await s.verifier.refreshKeys().catch(() => {});
      expect(s.verifier.status().jwks.state).toBe('stale');
      expect(
        (await getWithToken(`${s.app.url}/me`, await issuer.sign({ sub: fault }))).status,
      ).toBe(200);
    }
    // slow: a refresh that hangs holds no request back; the last good keys answer meanwhile
    issuer.setJwksFault('hang');
    clock.advance(60_000);
    const refresh = s.verifier.refreshKeys().catch(() => {});
    expect((await getWithToken(`${s.app.url}/me`, await issuer.sign({ sub: 'slow' }))).status).toBe(
      200,
    );
    await clock.advanceAsync(5_000); // the default jwks.timeoutMs
    await refresh;
    expect(s.verifier.status().jwks).toMatchObject({ state: 'stale', lastError: 'timeout' });
    issuer.setJwksFault(null);
  });

  it('fetches the JWKS at most once per cooldown for 1,000 tokens with random unknown kids', async () => {
    await using s = await appWith();
    expect((await getWithToken(`${s.app.url}/me`, await issuer.sign())).status).toBe(200);
    clock.advance(10_000);
    issuer.resetRequestCounts();
    const forged = await Promise.all(
      Array.from({ length: 1000 }, () =>
        issuer.sign({}, { kid: es.kid, header: { kid: crypto.randomUUID() } }),
      ),
    );
    for (let i = 0; i < forged.length; i += 100) {
      const batch = await Promise.all(
        forged.slice(i, i + 100).map((t) => getWithToken(`${s.app.url}/me`, t)),
      );
      expect(batch.every((r) => r.status === 401)).toBe(true);
    }
    expect(issuer.requests.jwks).toBe(1);
    clock.advance(10_000);
    await getWithToken(`${s.app.url}/me`, forged[0]!);
    expect(issuer.requests.jwks).toBe(2);
  });

  it('rejects cached tokens of a key removed from the JWKS after the refetch, and accepts a rotated-in key', async () => {
    await using s = await appWith();
    const oldKid = issuer.keys().find((k) => k.alg === 'RS256' && k.current)!.kid;
    const cached = await issuer.sign({ sub: 'old' }, { kid: oldKid });
    expect((await getWithToken(`${s.app.url}/me`, cached)).status).toBe(200);
    expect((await getWithToken(`${s.app.url}/me`, cached)).status).toBe(200); // admitted on second use
    expect(s.verifier.status().cache.entries).toBe(1);
    const [newKid] = await issuer.rotateKeys({ algorithms: ['RS256'], keepOld: false });
    issuer.resetRequestCounts();
    clock.advance(10_000);
    const fresh = await issuer.sign({ sub: 'new' }, { kid: newKid });
    expect((await getWithToken(`${s.app.url}/me`, fresh)).status).toBe(200);
    expect(issuer.requests.jwks).toBe(1);
    const res = await getWithToken(`${s.app.url}/me`, cached);
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toContain('error="invalid_token"');
  });
});
