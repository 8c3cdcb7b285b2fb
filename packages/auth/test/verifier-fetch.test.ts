import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createVerifier, isAuthError } from '../src/index.ts';
import { createTestIssuer, type TestIssuer } from '../src/testing/index.ts';

let issuer: TestIssuer;
beforeAll(async () => {
  issuer = await createTestIssuer({ algorithms: ['ES256'] });
});
afterAll(() => issuer.close());

describe('createVerifier({ fetch })', () => {
  it('fetches the discovery document and the JWKS through the given fetch', async () => {
    const urls: string[] = [];
    const verifier = createVerifier({
      issuer: issuer.url,
      audience: issuer.audience,
      discovery: true,
      algorithms: ['ES256'],
      fetch: (input, init) => {
        urls.push(input);
        return fetch(input, init);
      },
    });
    const token = await verifier.verify(await issuer.sign({ sub: 'svc' }));
    expect(token.subject).toBe('svc');
    expect(urls).toEqual([`${issuer.url}/.well-known/openid-configuration`, issuer.jwksUri]);
    await verifier.close();
  });

  it('refuses a fetch that is not a function, naming the option', () => {
    let caught: unknown;
    try {
      createVerifier({
        issuer: issuer.url,
        audience: issuer.audience,
        jwksUri: issuer.jwksUri,
        algorithms: ['ES256'],
        fetch: 'fetch' as never,
      });
    } catch (error) {
      caught = error;
    }
    expect(isAuthError(caught, 'INVALID_OPTIONS') && caught.option).toBe('fetch');
  });
});
