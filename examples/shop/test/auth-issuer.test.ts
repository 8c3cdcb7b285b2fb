import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createVerifier, totp } from '@ballast/auth';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIssuer } from '../services/auth/issuer.ts';
import { KeyRing } from '../services/auth/keys.ts';

const TOTP_SECRET = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP';
let stored: string | null = null;
const ring = new KeyRing({
  load: async () => stored,
  save: async (json) => {
    stored = json;
  },
});
let issuerUrl = '';
const server = createServer((req, res) => {
  issuer.handle(req, res).then(
    (handled) => {
      if (!handled) res.writeHead(404).end();
    },
    (error: unknown) => {
      console.error(error);
      res.writeHead(500).end();
    },
  );
});
let issuer: ReturnType<typeof createIssuer>;

beforeAll(async () => {
  await ring.init();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  issuerUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  issuer = createIssuer({
    issuer: issuerUrl,
    audience: 'shop',
    ring,
    clients: [
      {
        clientId: 'orders',
        clientSecret: 'orders-secret',
        scopes: ['payments:charge', 'inventory:write'],
      },
    ],
    userScopes: ['shop:browse', 'shop:checkout'],
    shopperPassword: 'shopper',
    admin: {
      username: 'admin',
      password: 'admin-pw',
      totpSecret: TOTP_SECRET,
      scopes: ['admin', 'shop:browse'],
    },
    userTokenTtlS: 600,
    serviceTokenTtlS: 600,
  });
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

const post = async (form: Record<string, string>, headers: Record<string, string> = {}) => {
  const res = await fetch(`${issuerUrl}/token`, {
    method: 'POST',
    body: new URLSearchParams(form),
    headers,
  });
  return { status: res.status, body: (await res.json()) as Record<string, string> };
};

describe('shop auth issuer', () => {
  it('publishes OIDC metadata whose issuer and JWKS a verifier accepts, and issues shopper tokens', async () => {
    const meta = (await (
      await fetch(`${issuerUrl}/.well-known/openid-configuration`)
    ).json()) as Record<string, unknown>;
    expect(meta.issuer).toBe(issuerUrl);
    expect(meta.jwks_uri).toBe(`${issuerUrl}/jwks.json`);
    const { status, body } = await post({
      grant_type: 'password',
      username: 'alice',
      password: 'shopper',
      scope: 'shop:browse',
    });
    expect(status).toBe(200);
    const verifier = createVerifier({
      issuer: issuerUrl,
      audience: 'shop',
      discovery: true,
      algorithms: ['ES256'],
    });
    const token = await verifier.verify(body.access_token as string);
    expect(token.subject).toBe('alice');
    expect(token.scopes).toEqual(['shop:browse']);
    await verifier.close();
  });

  it('refuses a wrong password, a scope not allowed, and an admin login without a valid TOTP code', async () => {
    expect(
      (await post({ grant_type: 'password', username: 'alice', password: 'nope' })).body.error,
    ).toBe('invalid_grant');
    expect(
      (
        await post({
          grant_type: 'password',
          username: 'alice',
          password: 'shopper',
          scope: 'admin',
        })
      ).body.error,
    ).toBe('invalid_scope');
    const noOtp = await post({ grant_type: 'password', username: 'admin', password: 'admin-pw' });
    expect(noOtp.body.error_description).toMatch(/second factor/);
    expect(
      (
        await post({
          grant_type: 'password',
          username: 'admin',
          password: 'admin-pw',
          otp: '000000',
        })
      ).status,
    ).toBe(400);
    const ok = await post({
      grant_type: 'password',
      username: 'admin',
      password: 'admin-pw',
      otp: totp(TOTP_SECRET),
    });
    expect(ok.body.scope).toBe('admin shop:browse');
    // the same code again is a replay
    const replay = await post({
      grant_type: 'password',
      username: 'admin',
      password: 'admin-pw',
      otp: totp(TOTP_SECRET),
    });
    expect(replay.body.error_description).toMatch(/replay/);
  });

  it('issues client-credentials tokens (basic auth) and refuses a wrong secret with 401', async () => {
    const basic = (id: string, secret: string) => ({
      authorization: `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`,
    });
    const ok = await post(
      { grant_type: 'client_credentials', scope: 'payments:charge' },
      basic('orders', 'orders-secret'),
    );
    expect(ok.status).toBe(200);
    expect(ok.body.scope).toBe('payments:charge');
    const bad = await post({ grant_type: 'client_credentials' }, basic('orders', 'wrong'));
    expect(bad.status).toBe(401);
    expect(bad.body.error).toBe('invalid_client');
  });

  it('rotates keys: old tokens verify until their key is removed, new tokens verify, a removed key is refused', async () => {
    // the code of the next 30 s step (inside the accepted window): this step's code was used above
    const next = totp(TOTP_SECRET, { time: Date.now() + 30_000 });
    const login = await post({
      grant_type: 'password',
      username: 'admin',
      password: 'admin-pw',
      otp: next,
    });
    expect(login.status).toBe(200);
    const admin = { authorization: `Bearer ${login.body.access_token}` };
    const verifier = createVerifier({
      issuer: issuerUrl,
      audience: 'shop',
      jwksUri: `${issuerUrl}/jwks.json`,
      algorithms: ['ES256'],
      jwks: { cooldownMs: 0, refreshIntervalMs: 1000 },
    });
    const shopper = async () =>
      (await post({ grant_type: 'password', username: 'bob', password: 'shopper' })).body
        .access_token as string;
    const oldToken = await shopper();
    const oldKid = ring.signer().kid;
    await verifier.verify(oldToken);

    const unauthorized = await fetch(`${issuerUrl}/admin/keys`, { method: 'POST' });
    expect(unauthorized.status).toBe(401);
    const added = (await (
      await fetch(`${issuerUrl}/admin/keys`, { method: 'POST', headers: admin })
    ).json()) as { kid: string };
    expect(
      (await fetch(`${issuerUrl}/admin/keys/${oldKid}`, { method: 'DELETE', headers: admin }))
        .status,
    ).toBe(409);
    expect(
      (
        await fetch(`${issuerUrl}/admin/keys/${added.kid}/activate`, {
          method: 'POST',
          headers: admin,
        })
      ).status,
    ).toBe(200);
    const newToken = await shopper();
    expect((await verifier.verify(newToken)).subject).toBe('bob');
    expect((await verifier.verify(oldToken)).subject).toBe('bob');

    expect(
      (await fetch(`${issuerUrl}/admin/keys/${oldKid}`, { method: 'DELETE', headers: admin }))
        .status,
    ).toBe(200);
    await verifier.refreshKeys();
    await expect(verifier.verify(oldToken)).rejects.toMatchObject({ code: 'INVALID_TOKEN' });
    expect((await verifier.verify(newToken)).subject).toBe('bob');
    // the ring was persisted: a new instance loads the same signer
    const again = new KeyRing({ load: async () => stored, save: async () => {} });
    await again.init();
    expect(again.signer().kid).toBe(added.kid);
    await verifier.close();
  });
});
