import { ManualClock, type TestHttpServer } from '@ballast/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createVerifier, type Verifier } from '../src/index.ts';
import { createTestIssuer, type TestIssuer } from '../src/testing/index.ts';
import { apps, type StartApp } from './adapter-apps.ts';
import { hangingEndpoint } from './hanging-endpoint.ts';
import { get, getWithToken, type TestResponse } from './http-client.ts';

const clock = new ManualClock(Date.UTC(2030, 0, 1));
let issuer: TestIssuer;

beforeAll(async () => {
  issuer = await createTestIssuer({ clock, algorithms: ['ES256'] });
});
afterAll(() => issuer.close());

function verifierFor(jwksUri: string): Verifier {
  return createVerifier({
    issuer: issuer.url,
    audience: issuer.audience,
    jwksUri,
    algorithms: ['ES256'],
    clock,
  });
}

/** Asserts an RFC 6750 error answer and that nothing internal leaks into it. */
function expectError(res: TestResponse, status: number, error?: string): void {
  expect(res.status).toBe(status);
  const challenge = res.headers['www-authenticate'];
  if (error === undefined) expect(challenge).toBe('Bearer realm="api"');
  else expect(challenge).toMatch(new RegExp(`^Bearer realm="api", error="${error}"`));
  const body = JSON.parse(res.body) as Record<string, unknown>;
  expect(Object.keys(body).sort()).toEqual(
    error ? ['error', 'error_description'] : ['error_description'],
  );
  expect(body.error).toBe(error);
  expect(res.body).not.toMatch(/jose|JWS|JWT|stack|at \w+ \(|node_modules|kid/i);
}

/** The one behaviour suite every adapter must pass, with the real framework on 127.0.0.1. */
function behaviourSuite(name: string, start: StartApp): void {
  describe(`${name} adapter`, () => {
    let app: TestHttpServer;
    let broken: TestHttpServer;
    const verifiers: Verifier[] = [];

    beforeAll(async () => {
      verifiers.push(verifierFor(issuer.jwksUri), verifierFor(`${issuer.url}/no-such-jwks`));
      app = await start(verifiers[0]!);
      broken = await start(verifiers[1]!);
    });
    afterAll(async () => {
      for (const v of verifiers) v.close();
      await Promise.all([app.close(), broken.close()]);
    });

    const sign = (claims: Record<string, unknown> = {}) => issuer.sign({ sub: 'u1', ...claims });

    it('passes a valid token and attaches auth', async () => {
      const res = await getWithToken(`${app.url}/me`, await sign({ scope: 'a b' }));
      expect(res.status).toBe(200);
      expect(JSON.parse(res.body)).toEqual({ sub: 'u1', scopes: ['a', 'b'] });
    });

    it('answers a plain 401 challenge when there are no credentials', async () => {
      expectError(await get(`${app.url}/me`), 401);
      expectError(await get(`${app.url}/me`, ['authorization', 'Basic dTpw']), 401);
    });

    it.each([['Bearer'], ['Bearer '], ['Bearer a b'], ['Bearer abc,def'], ['bearer "quoted"']])(
      'answers 400 invalid_request to malformed credentials %j',
      async (value) => {
        expectError(await get(`${app.url}/me`, ['authorization', value]), 400, 'invalid_request');
      },
    );

    it('answers 400 invalid_request to two Authorization headers', async () => {
      const token = await sign();
      const res = await get(`${app.url}/me`, [
        'authorization',
        `Bearer ${token}`,
        'authorization',
        `Bearer ${token}`,
      ]);
      expectError(res, 400, 'invalid_request');
    });

    it('refuses query-string tokens unless enabled, and tokens sent twice', async () => {
      const token = await sign();
      expectError(await get(`${app.url}/me?access_token=${token}`), 400, 'invalid_request');
      expect((await get(`${app.url}/query?access_token=${token}`)).status).toBe(200);
      const both = await get(`${app.url}/query?access_token=${token}`, [
        'authorization',
        `Bearer ${token}`,
      ]);
      expectError(both, 400, 'invalid_request');
      const twice = await get(`${app.url}/query?access_token=${token}&access_token=${token}`);
      expectError(twice, 400, 'invalid_request');
    });

    it('answers 401 invalid_token to an expired or forged token, without detail', async () => {
      const expired = await issuer.sign({ exp: Math.floor(clock.now() / 1000) - 3600 });
      const res = await getWithToken(`${app.url}/me`, expired);
      expectError(res, 401, 'invalid_token');
      expect(JSON.parse(res.body).error_description).toBe('The access token expired');
      const token = await sign();
      const forged = `${token.slice(0, token.lastIndexOf('.'))}.${'A'.repeat(86)}`;
      expectError(await getWithToken(`${app.url}/me`, forged), 401, 'invalid_token');
    });

    it('requires all scopes, naming them in the challenge', async () => {
      const res = await getWithToken(`${app.url}/all`, await sign({ scope: 'a' }));
      expectError(res, 403, 'insufficient_scope');
      expect(res.headers['www-authenticate']).toContain('scope="a b"');
      expect((await getWithToken(`${app.url}/all`, await sign({ scope: 'b a' }))).status).toBe(200);
    });

    it('requires any of the scopes in any mode', async () => {
      expect((await getWithToken(`${app.url}/any`, await sign({ scope: 'z' }))).status).toBe(200);
      expectError(
        await getWithToken(`${app.url}/any`, await sign({ scope: 'c' })),
        403,
        'insufficient_scope',
      );
    });

    it('checks claims', async () => {
      expect((await getWithToken(`${app.url}/claims`, await sign({ tenant: 't1' }))).status).toBe(
        200,
      );
      expectError(
        await getWithToken(`${app.url}/claims`, await sign({ tenant: 't2' })),
        403,
        'insufficient_scope',
      );
    });

    it('checks scopes and claims given to requireAuth itself', async () => {
      expect(
        (await getWithToken(`${app.url}/inline`, await sign({ scope: 'a', tenant: 't1' }))).status,
      ).toBe(200);
      expectError(
        await getWithToken(`${app.url}/inline`, await sign({ tenant: 't1' })),
        403,
        'insufficient_scope',
      );
      expectError(
        await getWithToken(`${app.url}/inline`, await sign({ scope: 'a' })),
        403,
        'insufficient_scope',
      );
    });

    it('stops waiting for keys when the client goes away', async () => {
      const hanging = await hangingEndpoint();
      const inner = verifierFor(hanging.url);
      let failed!: (code: string) => void;
      const failure = new Promise<string>((resolve) => {
        failed = resolve;
      });
      const spy: Verifier = {
        ...inner,
        verify: (token, options) =>
          inner.verify(token, options).catch((error: { code: string }) => {
            failed(error.code);
            throw error;
          }),
      };
      const slow = await start(spy);
      try {
        const controller = new AbortController();
        const pending = fetch(`${slow.url}/me`, {
          headers: { authorization: `Bearer ${await sign()}` },
          signal: controller.signal,
        }).catch(() => 'aborted');
        await hanging.arrived();
        controller.abort();
        expect(await pending).toBe('aborted');
        expect(await failure).toBe('ABORTED');
      } finally {
        inner.close();
        await Promise.all([slow.close(), hanging.close()]);
      }
    });

    it('answers 503 with Retry-After, not 401, when no keys can be fetched', async () => {
      const res = await getWithToken(`${broken.url}/me`, await sign());
      expect(res.status).toBe(503);
      expect(res.headers['retry-after']).toBe('5');
      expect(res.headers['www-authenticate']).toBeUndefined();
      expect(JSON.parse(res.body)).toEqual({
        error: 'temporarily_unavailable',
        error_description: 'The token cannot be checked now; retry later',
      });
    });
  });
}

for (const [name, start] of Object.entries(apps)) behaviourSuite(name, start);
