import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AuthVariables, authenticate, authOf, requireAuth } from '../src/adapters/fetch.ts';
import { createVerifier, type Verifier } from '../src/index.ts';
import { createTestIssuer, type TestIssuer } from '../src/testing/index.ts';

let issuer: TestIssuer;
let verifier: Verifier;

beforeAll(async () => {
  issuer = await createTestIssuer({ algorithms: ['ES256'] });
  verifier = createVerifier({
    issuer: issuer.url,
    audience: issuer.audience,
    jwksUri: issuer.jwksUri,
    algorithms: ['ES256'],
  });
});
afterAll(async () => {
  await verifier.close();
  await issuer.close();
});

const bearer = async (sub: string) => ({ authorization: `Bearer ${await issuer.sign({ sub })}` });

describe('fetch authOf(request)', () => {
  it('gives the token requireAuth verified to code that only has the Request (an idempotency scope)', async () => {
    const seen: (string | undefined)[] = [];
    const app = new Hono<{ Variables: AuthVariables }>();
    app.use('*', requireAuth(verifier));
    app.use('*', async (c, next) => {
      seen.push(authOf(c.req.raw)?.subject); // what a `scope: (request) => …` callback sees
      await next();
    });
    app.get('/me', (c) =>
      c.json({ viaContext: authOf(c)?.subject, viaRequest: authOf(c.req.raw)?.subject }),
    );

    const res = await app.request('/me', { headers: await bearer('user-7') });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ viaContext: 'user-7', viaRequest: 'user-7' });
    expect(seen).toEqual(['user-7']);
  });

  it('works after authenticate() in a route handler, and is undefined for a request nobody verified', async () => {
    const auth = authenticate(verifier);
    const request = new Request('http://x/orders', { headers: await bearer('svc-orders') });
    const token = await auth(request);
    expect(token).not.toBeInstanceOf(Response);
    expect(authOf(request)?.subject).toBe('svc-orders');

    expect(
      authOf(new Request('http://x/orders', { headers: await bearer('other') })),
    ).toBeUndefined();
    const refused = new Request('http://x/orders');
    expect(await auth(refused)).toBeInstanceOf(Response);
    expect(authOf(refused)).toBeUndefined();
  });
});
