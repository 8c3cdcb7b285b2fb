import type { JWK } from 'jose';
import { parseAuthOptions } from '../parse-options.ts';
import { testIssuerObject } from './facade.ts';
import { FaultBoard } from './faults.ts';
import { isRead, sendJson } from './http.ts';
import { KeyRing } from './key-ring.ts';
import { issuerMetadata } from './metadata.ts';
import { issuerAlgorithms, optionsSchema } from './options.ts';
import { startIssuerServer } from './server.ts';
import { TokenEndpoint } from './token-endpoint.ts';
import type { TestIssuer, TestIssuerAlgorithm, TestIssuerOptions } from './types.ts';

/**
 * Starts an OAuth 2.0 authorization server for tests on 127.0.0.1 (a free port): OIDC discovery
 * and RFC 8414 metadata, a JWKS, a `client_credentials` token endpoint (client_secret_basic,
 * client_secret_post, private_key_jwt), key rotation, fault injection and request counters.
 * `sign()` signs any claims with RS256, ES256 or EdDSA keys.
 *
 * The parts live next to this file: the keys (`key-ring.ts`), the token endpoint
 * (`token-endpoint.ts`), the faults (`faults.ts`), the HTTP server and its routes (`server.ts`),
 * the metadata document (`metadata.ts`), the public object (`facade.ts`) and the HTTP helpers
 * (`http.ts`).
 *
 * @example
 * ```ts
 * await using issuer = await createTestIssuer({ clients: [{ clientId: 'orders', clientSecret: 's3cret', scopes: ['stock:read'] }] });
 * const token = await issuer.sign({ sub: 'user-1', scope: 'orders:read' });
 * ```
 */
export async function createTestIssuer(options: TestIssuerOptions = {}): Promise<TestIssuer> {
  const opts = parseAuthOptions(optionsSchema, options, 'createTestIssuer()');
  const { algorithms, defaultAlgorithm } = issuerAlgorithms(opts);
  const clock = opts.clock ?? Date;
  // The issuer URL is known once the server listens; the keys and the token endpoint read it then.
  const signing = { issuer: '', audience: opts.audience, tokenTtlMs: opts.tokenTtlMs, clock };
  const keyDefaults = { ...signing, defaultAlgorithm };
  const keys = new KeyRing(keyDefaults);
  const endpointContext = { ...signing, keys, tokenEndpoint: '' };
  for (const jwk of opts.keys) await keys.import(jwk as JWK & { alg: TestIssuerAlgorithm });
  for (const alg of algorithms) if (!keys.has(alg)) await keys.add(alg);
  const tokens = new TokenEndpoint(endpointContext);
  for (const client of opts.clients) tokens.register(client);
  const faults = new FaultBoard();

  const server = await startIssuerServer(opts, faults, (endpoint, req, res) => {
    if (endpoint === 'token') return tokens.handle(req, res);
    if (!isRead(req, res)) return;
    const body =
      endpoint === 'metadata'
        ? issuerMetadata(server.at, algorithms, tokens.scopes())
        : keys.jwks();
    sendJson(res, 200, body, { 'cache-control': 'public, max-age=300' });
  });
  keyDefaults.issuer = server.at.issuerUrl;
  endpointContext.issuer = server.at.issuerUrl;
  endpointContext.tokenEndpoint = server.at.tokenEndpoint;
  return testIssuerObject({ server, keys, tokens, faults, algorithms, audience: opts.audience });
}
