import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { JWK } from 'jose';
import { optionError, parseAuthOptions } from '../parse-options.ts';
import { ASYMMETRIC_ALGORITHMS } from '../verifier-options.ts';
import { FaultBoard } from './faults.ts';
import { isRead, sendJson } from './http.ts';
import { KeyRing } from './key-ring.ts';
import { ALGORITHMS, clientSchema, faultSchema, optionsSchema } from './options.ts';
import { TokenEndpoint } from './token-endpoint.ts';
import type {
  TestIssuer,
  TestIssuerAlgorithm,
  TestIssuerEndpoint,
  TestIssuerFault,
  TestIssuerMetadata,
  TestIssuerOptions,
} from './types.ts';

/** Where the issuer is reachable, once it listens. */
interface Addresses {
  readonly port: number;
  readonly origin: string;
  readonly issuerUrl: string;
  readonly jwksUri: string;
  readonly tokenEndpoint: string;
  readonly metadataUrl: string;
}

/**
 * Starts an OAuth 2.0 authorization server for tests on 127.0.0.1 (a free port): OIDC discovery
 * and RFC 8414 metadata, a JWKS, a `client_credentials` token endpoint (client_secret_basic,
 * client_secret_post, private_key_jwt), key rotation, fault injection and request counters.
 * `sign()` signs any claims with RS256, ES256 or EdDSA keys.
 *
 * The parts live next to this file: the keys (`key-ring.ts`), the token endpoint
 * (`token-endpoint.ts`), the faults (`faults.ts`) and the HTTP helpers (`http.ts`).
 *
 * @example
 * ```ts
 * await using issuer = await createTestIssuer({ clients: [{ clientId: 'orders', clientSecret: 's3cret', scopes: ['stock:read'] }] });
 * const token = await issuer.sign({ sub: 'user-1', scope: 'orders:read' });
 * ```
 */
// Longer than ~80 lines on purpose: half of it is the TestIssuer object, whose members only
// delegate to the key ring, the token endpoint and the fault board; the logic lives in those.
export async function createTestIssuer(options: TestIssuerOptions = {}): Promise<TestIssuer> {
  const opts = parseAuthOptions(optionsSchema, options, 'createTestIssuer()');
  const algorithms = [
    ...new Set([...(opts.algorithms ?? ALGORITHMS), ...opts.keys.map((k) => k.alg)]),
  ];
  const defaultAlgorithm = opts.defaultAlgorithm ?? algorithms[0]!;
  if (!algorithms.includes(defaultAlgorithm)) {
    throw optionError(
      'createTestIssuer()',
      'defaultAlgorithm',
      defaultAlgorithm,
      `must be one of "algorithms" (${algorithms.join(', ')})`,
    );
  }
  const clock = opts.clock ?? Date;
  const defaults = {
    issuer: '',
    audience: opts.audience,
    tokenTtlMs: opts.tokenTtlMs,
    defaultAlgorithm,
    clock,
  };
  const keys = new KeyRing(defaults);
  for (const jwk of opts.keys) await keys.import(jwk as JWK & { alg: TestIssuerAlgorithm });
  for (const alg of algorithms) if (!keys.has(alg)) await keys.add(alg);
  const context = {
    keys,
    clock,
    audience: opts.audience,
    tokenTtlMs: opts.tokenTtlMs,
    issuer: '',
    tokenEndpoint: '',
  };
  const tokens = new TokenEndpoint(context);
  for (const client of opts.clients) tokens.register(client);
  const faults = new FaultBoard();
  const counts: Record<TestIssuerEndpoint, number> = { metadata: 0, jwks: 0, token: 0 };

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent)
        sendJson(res, 500, { error: 'server_error', error_description: String(error) });
      else res.destroy();
    });
  });
  const at = await listen(server, opts.host, opts.port, opts.publicUrl, opts.path);
  defaults.issuer = at.issuerUrl;
  context.issuer = at.issuerUrl;
  context.tokenEndpoint = at.tokenEndpoint;
  const routes = new Map<string, TestIssuerEndpoint>([
    [`${opts.path}/.well-known/openid-configuration`, 'metadata'],
    [`/.well-known/oauth-authorization-server${opts.path}`, 'metadata'],
    [`${opts.path}/.well-known/oauth-authorization-server`, 'metadata'],
    [`${opts.path}/jwks`, 'jwks'],
    [`${opts.path}/token`, 'token'],
  ]);

  const metadata = (): TestIssuerMetadata => ({
    issuer: at.issuerUrl,
    jwks_uri: at.jwksUri,
    token_endpoint: at.tokenEndpoint,
    grant_types_supported: ['client_credentials'],
    token_endpoint_auth_methods_supported: [
      'client_secret_basic',
      'client_secret_post',
      'private_key_jwt',
    ],
    token_endpoint_auth_signing_alg_values_supported: [...ASYMMETRIC_ALGORITHMS],
    id_token_signing_alg_values_supported: [...algorithms],
    response_types_supported: [],
    subject_types_supported: ['public'],
    scopes_supported: tokens.scopes(),
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    const endpoint = routes.get(path);
    if (!endpoint) {
      sendJson(res, 404, { error: 'not_found', error_description: `no endpoint at ${path}` });
      return;
    }
    counts[endpoint]++;
    const fault = faults.take(endpoint);
    if (fault !== undefined && (await faults.apply(fault, res))) return;
    if (endpoint === 'token') return tokens.handle(req, res);
    if (!isRead(req, res)) return;
    const body = endpoint === 'metadata' ? metadata() : keys.jwks();
    sendJson(res, 200, body, { 'cache-control': 'public, max-age=300' });
  }

  async function close(): Promise<void> {
    faults.clear();
    if (!server.listening) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  const issuer: TestIssuer = {
    url: at.issuerUrl,
    origin: at.origin,
    port: at.port,
    discoveryUrl: `${at.issuerUrl}/.well-known/openid-configuration`,
    metadataUrl: at.metadataUrl,
    jwksUri: at.jwksUri,
    tokenEndpoint: at.tokenEndpoint,
    audience: opts.audience,
    get metadata() {
      return metadata();
    },
    get requests() {
      return { ...counts };
    },
    get tokenRequests() {
      return tokens.requests;
    },
    sign: (claims, signOptions) => keys.sign(claims, signOptions),
    keys: () => keys.list(),
    jwks: () => keys.jwks(),
    exportKeys: () => keys.exportPublished(),
    rotateKeys: (rotate = {}) =>
      keys.rotate(rotate.algorithms ?? algorithms, rotate.keepOld !== false),
    removeKey: (kid) => keys.unpublish(kid),
    registerClient(client) {
      tokens.register(parseAuthOptions(clientSchema, client, 'TestIssuer.registerClient()'));
    },
    setFault(endpoint, fault, faultOptions = {}) {
      if (!['metadata', 'jwks', 'token'].includes(endpoint)) {
        throw optionError(
          'TestIssuer.setFault()',
          'endpoint',
          endpoint,
          'must be one of "metadata", "jwks", "token"',
        );
      }
      const parsed =
        fault === null
          ? null
          : (parseAuthOptions(faultSchema, fault, 'TestIssuer.setFault()') as TestIssuerFault);
      faults.set(endpoint, parsed, faultOptions.times ?? Number.POSITIVE_INFINITY);
    },
    setJwksFault(fault, faultOptions) {
      issuer.setFault('jwks', fault, faultOptions);
    },
    resetRequestCounts() {
      counts.metadata = 0;
      counts.jwks = 0;
      counts.token = 0;
      tokens.resetRequests();
    },
    close,
    [Symbol.asyncDispose]: close,
  };
  return issuer;
}

/** Starts `server` and works out the URLs it answers on (or advertises, behind a proxy). */
async function listen(
  server: Server,
  host: string,
  port: number,
  publicUrl: string | undefined,
  path: string,
): Promise<Addresses> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = (server.address() as AddressInfo).port;
  const listenHost = host.includes(':') ? `[${host}]` : host;
  const origin = publicUrl
    ? new URL(publicUrl).origin
    : `http://${listenHost === '0.0.0.0' ? '127.0.0.1' : listenHost}:${bound}`;
  const issuerUrl = `${origin}${path}`;
  return {
    port: bound,
    origin,
    issuerUrl,
    jwksUri: `${issuerUrl}/jwks`,
    tokenEndpoint: `${issuerUrl}/token`,
    metadataUrl: `${origin}/.well-known/oauth-authorization-server${path}`,
  };
}
