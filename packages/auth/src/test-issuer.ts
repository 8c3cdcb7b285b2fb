import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { o } from '@ballast/kernel';
import {
  type CryptoKey,
  calculateJwkThumbprint,
  createLocalJWKSet,
  decodeJwt,
  exportJWK,
  generateKeyPair,
  importJWK,
  type JWK,
  type JWTVerifyGetKey,
  jwtVerify,
  type KeyObject,
  SignJWT,
} from 'jose';
import { optionError, parseAuthOptions } from './parse-options.ts';
import { ASYMMETRIC_ALGORITHMS } from './verifier-options.ts';

/** Signing algorithms the test issuer can create keys for. */
export type TestIssuerAlgorithm = 'RS256' | 'ES256' | 'EdDSA';

/** The endpoints of a test issuer, as named by counters and {@link TestIssuer.setFault}. */
export type TestIssuerEndpoint = 'metadata' | 'jwks' | 'token';

/**
 * A fault a test issuer endpoint can be told to show (see {@link TestIssuer.setFault}):
 * - `'down'`: answers `503` with an RFC 6749-shaped JSON error body;
 * - `'reset'`: destroys the connection without answering (a network error for the client);
 * - `'hang'`: accepts the request and never answers (until `close()`);
 * - `'slow'`: answers normally after 1 s of real time (`{ delayMs }` picks the delay);
 * - `'garbage'`: `200 application/json` whose body is not JSON;
 * - `'huge'`: `200 application/json` with a 5 MiB body;
 * - `{ status, body?, headers? }`: any status with any body (an object is sent as JSON);
 * - `{ delayMs }`: answers normally after `delayMs` of real time.
 */
export type TestIssuerFault =
  | 'down'
  | 'reset'
  | 'hang'
  | 'slow'
  | 'garbage'
  | 'huge'
  | { status: number; body?: string | Record<string, unknown>; headers?: Record<string, string> }
  | { delayMs: number };

/** A client registered with the token endpoint of a test issuer. */
export interface TestIssuerClient {
  /** The `client_id`. */
  clientId: string;
  /** Secret for `client_secret_basic` / `client_secret_post`. */
  clientSecret?: string;
  /** Public key (CryptoKey, KeyObject or public JWK) that verifies `private_key_jwt` assertions. */
  publicKey?: CryptoKey | KeyObject | JWK;
  /** Scopes the client may ask for; a request without `scope` is granted all of them. */
  scopes?: string[];
  /** Audiences (`audience` or `resource` parameter) the client may ask for; any when omitted. */
  audiences?: string[];
  /** Extra claims put into every access token issued to this client. */
  claims?: Record<string, unknown>;
  /** Lifetime of this client's access tokens; the issuer's `tokenTtlMs` when omitted. */
  tokenTtlMs?: number;
}

/** Options of {@link createTestIssuer}. */
export interface TestIssuerOptions {
  /** Algorithms to create a key for (one current key each). Default `['RS256', 'ES256', 'EdDSA']`. */
  algorithms?: TestIssuerAlgorithm[];
  /** Algorithm `sign()` and the token endpoint use when none is given. Default: the first of `algorithms`. */
  defaultAlgorithm?: TestIssuerAlgorithm;
  /** Default `aud` of signed tokens. Default `'https://api.test'`. */
  audience?: string;
  /** Default lifetime of signed tokens. Default 3 600 000 (one hour). */
  tokenTtlMs?: number;
  /** Clients the token endpoint accepts (more with `registerClient`). */
  clients?: TestIssuerClient[];
  /** Time source for `iat`/`exp` and for checking client assertions (e.g. a ManualClock). Default `Date`. */
  clock?: { now(): number };
  /** Interface to listen on. Default `'127.0.0.1'`. */
  host?: string;
  /** Port to listen on; `0` (default) picks a free one. */
  port?: number;
  /** Path of the issuer identifier, e.g. `'/realms/test'`. Default `''` (the issuer is the origin). */
  path?: string;
  /** Origin advertised in `iss` and metadata when the issuer sits behind a proxy. Default: its own URL. */
  publicUrl?: string;
  /**
   * Private JWKs (each with `alg`: RS256, ES256 or EdDSA) to sign with instead of fresh keys — e.g.
   * what `exportKeys()` returned before a restart, so tokens survive it. The last key of an
   * algorithm is its current one; algorithms without a key get a fresh one.
   */
  keys?: JWK[];
}

/** Options of {@link TestIssuer.sign}. */
export interface TestIssuerSignOptions {
  /** Algorithm; picks that algorithm's current key. Default: the issuer's `defaultAlgorithm`. */
  alg?: TestIssuerAlgorithm;
  /** Signs with this key (any key ever created, including rotated-out or removed ones). */
  kid?: string;
  /** Lifetime used for the default `exp`. Default: the issuer's `tokenTtlMs`. */
  expiresInMs?: number;
  /**
   * Protected header fields merged over the defaults `{ alg, kid, typ: 'at+jwt' }`; a field set to
   * `undefined` is removed (e.g. `{ typ: undefined }`), any other value is sent as given.
   */
  header?: Record<string, unknown>;
}

/** A signing key of a test issuer. */
export interface TestIssuerKey {
  /** The key id, in the JWKS and in the `kid` header of tokens it signs. */
  readonly kid: string;
  /** The algorithm it signs with. */
  readonly alg: TestIssuerAlgorithm;
  /** True for the key `sign()` uses for its algorithm. */
  readonly current: boolean;
  /** True while the key is listed in the JWKS. */
  readonly published: boolean;
  /** The public JWK (with `kid`, `alg`, `use`). */
  readonly publicJwk: JWK;
  /** The private key, for tests that sign by hand. */
  readonly privateKey: CryptoKey;
}

/** One request the token endpoint answered, for assertions in tests. */
export interface TestIssuerTokenRequest {
  /** The client that asked, when it could be told. */
  readonly clientId: string | undefined;
  /** How the client authenticated (`none` when it sent no credentials). */
  readonly authMethod:
    | 'client_secret_basic'
    | 'client_secret_post'
    | 'private_key_jwt'
    | 'none'
    | undefined;
  /** The `grant_type` parameter. */
  readonly grantType: string | undefined;
  /** The `scope` parameter as sent. */
  readonly scope: string | undefined;
  /** The HTTP status of the answer. */
  readonly status: number;
  /** The RFC 6749 `error` code of a refused request. */
  readonly error: string | undefined;
}

/** RFC 8414 authorization server metadata (also served as OIDC discovery); members keep their RFC 8414 / OIDC Discovery names and meanings. */
export interface TestIssuerMetadata {
  readonly issuer: string;
  readonly jwks_uri: string;
  readonly token_endpoint: string;
  readonly grant_types_supported: string[];
  readonly token_endpoint_auth_methods_supported: string[];
  readonly token_endpoint_auth_signing_alg_values_supported: string[];
  readonly id_token_signing_alg_values_supported: string[];
  readonly response_types_supported: string[];
  readonly subject_types_supported: string[];
  readonly scopes_supported: string[];
}

/** A running OAuth 2.0 / OIDC issuer for tests, created by {@link createTestIssuer}. */
export interface TestIssuer extends AsyncDisposable {
  /** The issuer identifier, the `iss` of every token (e.g. `http://127.0.0.1:41234`). */
  readonly url: string;
  /** The origin the server listens on. */
  readonly origin: string;
  /** The TCP port it listens on. */
  readonly port: number;
  /** `<url>/.well-known/openid-configuration` */
  readonly discoveryUrl: string;
  /** RFC 8414 metadata URL: `<origin>/.well-known/oauth-authorization-server<path>` */
  readonly metadataUrl: string;
  /** `<url>/jwks`: the public keys verifiers fetch. */
  readonly jwksUri: string;
  /** `<url>/token`: the client-credentials token endpoint. */
  readonly tokenEndpoint: string;
  /** Default `aud` of signed tokens. */
  readonly audience: string;
  /** The metadata document the discovery endpoints serve. */
  readonly metadata: TestIssuerMetadata;
  /** Requests received per endpoint (faulted ones included), since start or `resetRequestCounts()`. */
  readonly requests: Readonly<Record<TestIssuerEndpoint, number>>;
  /** Every token request answered, in order. */
  readonly tokenRequests: readonly TestIssuerTokenRequest[];
  /**
   * Signs `claims` as a JWT. Defaults: `iss`, `aud`, `iat` (now), `exp` (now + `expiresInMs`),
   * header `typ: 'at+jwt'` and the key's `kid`. Claims override the defaults; a claim set to
   * `undefined` is left out (e.g. `{ exp: undefined }` for a token without `exp`).
   */
  sign(claims?: Record<string, unknown>, options?: TestIssuerSignOptions): Promise<string>;
  /** Every key ever created (published, current, or removed). */
  keys(): readonly TestIssuerKey[];
  /** The JWKS document `/jwks` serves (public keys only). */
  jwks(): { keys: JWK[] };
  /** The private JWKs of the published keys (with `kid` and `alg`), to pass back as `keys` later. */
  exportKeys(): Promise<JWK[]>;
  /**
   * Creates a new current key for each algorithm (default: all of the issuer's). The old keys stay
   * in the JWKS unless `keepOld` is `false`. Returns the new kids.
   */
  rotateKeys(options?: {
    algorithms?: TestIssuerAlgorithm[];
    keepOld?: boolean;
  }): Promise<string[]>;
  /** Removes a key from the JWKS; `sign({ kid })` can still use it (to test that verifiers refuse it). */
  removeKey(kid: string): void;
  /** Registers (or replaces) a client of the token endpoint. */
  registerClient(client: TestIssuerClient): void;
  /** Makes `endpoint` show `fault` (for the next `times` requests, or until cleared with `null`). */
  setFault(
    endpoint: TestIssuerEndpoint,
    fault: TestIssuerFault | null,
    options?: { times?: number },
  ): void;
  /** Shorthand for `setFault('jwks', fault, options)`. */
  setJwksFault(fault: TestIssuerFault | null, options?: { times?: number }): void;
  /** Sets every request counter back to zero and empties `tokenRequests`. */
  resetRequestCounts(): void;
  /** Stops the server, dropping open connections (including hung ones). */
  close(): Promise<void>;
}

const ALGORITHMS = ['RS256', 'ES256', 'EdDSA'] as const;
const ASSERTION_ALGORITHMS: string[] = [...ASYMMETRIC_ALGORITHMS];
const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
const MAX_FORM_BYTES = 64 * 1024;
const HUGE_BYTES = 5 * 1024 * 1024;
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;

const nonEmpty = () => o.string({ minLength: 1 });
const positiveInt = () => o.number({ integer: true, gt: 0 });

const clientSchema = o
  .object({
    clientId: nonEmpty(),
    clientSecret: nonEmpty().optional(),
    publicKey: o
      .custom<CryptoKey | KeyObject | JWK>(
        (v) => typeof v === 'object' && v !== null,
        'a CryptoKey, KeyObject or public JWK',
      )
      .optional(),
    scopes: o
      .array(
        o.string({ pattern: { regex: SCOPE_TOKEN, expected: 'one scope token without spaces' } }),
      )
      .optional(),
    audiences: o.array(nonEmpty()).optional(),
    claims: o.record(o.unknown()).optional(),
    tokenTtlMs: positiveInt().optional(),
  })
  .refine(
    (c) => c.clientSecret !== undefined || c.publicKey !== undefined,
    'needs a clientSecret or a publicKey',
  );

const faultSchema = o.union(
  o.oneOf(['down', 'reset', 'hang', 'slow', 'garbage', 'huge']),
  o.object({
    status: o.number({ integer: true, min: 100, max: 599 }),
    body: o.union(o.string(), o.record(o.unknown())).optional(),
    headers: o.record(o.string()).optional(),
  }),
  o.object({ delayMs: o.number({ integer: true, min: 0 }) }),
);

const privateJwkSchema = o.object(
  {
    kty: o.string(),
    d: o.string(),
    alg: o.oneOf(ALGORITHMS),
    kid: nonEmpty().optional(),
  },
  { passthrough: true },
);

const optionsSchema = o.object({
  algorithms: o.array(o.oneOf(ALGORITHMS), { minLength: 1 }).optional(),
  defaultAlgorithm: o.oneOf(ALGORITHMS).optional(),
  audience: nonEmpty().default('https://api.test'),
  tokenTtlMs: positiveInt().default(3_600_000),
  clients: o.array(clientSchema).default([]),
  clock: o
    .custom<{ now(): number }>(
      (v) => typeof (v as { now?: unknown } | null)?.now === 'function',
      'an object with now()',
    )
    .optional(),
  host: nonEmpty().default('127.0.0.1'),
  port: o.number({ integer: true, min: 0, max: 65_535 }).default(0),
  path: o
    .string({
      pattern: {
        regex: /^(\/[A-Za-z0-9._~!$&'()*+,;=:@%-]+)*$/,
        expected: '"" or a path like "/realms/test"',
      },
    })
    .default(''),
  publicUrl: o
    .custom<string>((v) => {
      try {
        return typeof v === 'string' && /^https?:$/.test(new URL(v).protocol);
      } catch {
        return false;
      }
    }, 'an http(s) URL')
    .optional(),
  keys: o.array(privateJwkSchema).default([]),
});

interface KeyRecord {
  kid: string;
  alg: TestIssuerAlgorithm;
  current: boolean;
  published: boolean;
  publicJwk: JWK;
  privateKey: CryptoKey;
}

interface ClientRecord {
  clientId: string;
  clientSecret: string | undefined;
  getKey: JWTVerifyGetKey | CryptoKey | KeyObject | undefined;
  scopes: string[];
  audiences: string[] | undefined;
  claims: Record<string, unknown>;
  tokenTtlMs: number | undefined;
}

interface ActiveFault {
  fault: TestIssuerFault;
  remaining: number;
}

class OAuthError extends Error {
  readonly status: number;
  readonly error: string;
  readonly description: string;
  readonly headers: Record<string, string>;

  constructor(
    status: number,
    error: string,
    description: string,
    headers: Record<string, string> = {},
  ) {
    super(description);
    this.status = status;
    this.error = error;
    this.description = description;
    this.headers = headers;
  }
}

/**
 * Starts an OAuth 2.0 authorization server for tests on 127.0.0.1 (a free port): OIDC discovery
 * and RFC 8414 metadata, a JWKS, a `client_credentials` token endpoint (client_secret_basic,
 * client_secret_post, private_key_jwt), key rotation, fault injection and request counters.
 * `sign()` signs any claims with RS256, ES256 or EdDSA keys.
 *
 * @example
 * ```ts
 * await using issuer = await createTestIssuer({ clients: [{ clientId: 'orders', clientSecret: 's3cret', scopes: ['stock:read'] }] });
 * const token = await issuer.sign({ sub: 'user-1', scope: 'orders:read' });
 * ```
 */
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
  const keys: KeyRecord[] = [];
  const clients = new Map<string, ClientRecord>();
  const faults = new Map<TestIssuerEndpoint, ActiveFault>();
  const counts: Record<TestIssuerEndpoint, number> = { metadata: 0, jwks: 0, token: 0 };
  const tokenRequests: TestIssuerTokenRequest[] = [];
  const usedAssertionIds = new Map<string, number>();
  const timers = new Set<NodeJS.Timeout>();

  for (const client of opts.clients) clients.set(client.clientId, toClientRecord(client));
  for (const jwk of opts.keys) await importKey(jwk as JWK & { alg: TestIssuerAlgorithm });
  for (const alg of algorithms) if (!keys.some((k) => k.alg === alg)) await addKey(alg);

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent)
        sendJson(res, 500, { error: 'server_error', error_description: String(error) });
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const listenHost = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  const origin = opts.publicUrl
    ? new URL(opts.publicUrl).origin
    : `http://${listenHost === '0.0.0.0' ? '127.0.0.1' : listenHost}:${port}`;
  const issuerUrl = `${origin}${opts.path}`;
  const jwksUri = `${issuerUrl}/jwks`;
  const tokenEndpoint = `${issuerUrl}/token`;
  const routes = new Map<string, TestIssuerEndpoint>([
    [`${opts.path}/.well-known/openid-configuration`, 'metadata'],
    [`/.well-known/oauth-authorization-server${opts.path}`, 'metadata'],
    [`${opts.path}/.well-known/oauth-authorization-server`, 'metadata'],
    [`${opts.path}/jwks`, 'jwks'],
    [`${opts.path}/token`, 'token'],
  ]);

  function metadata(): TestIssuerMetadata {
    const scopes = new Set<string>();
    for (const client of clients.values()) for (const scope of client.scopes) scopes.add(scope);
    return {
      issuer: issuerUrl,
      jwks_uri: jwksUri,
      token_endpoint: tokenEndpoint,
      grant_types_supported: ['client_credentials'],
      token_endpoint_auth_methods_supported: [
        'client_secret_basic',
        'client_secret_post',
        'private_key_jwt',
      ],
      token_endpoint_auth_signing_alg_values_supported: [...ASSERTION_ALGORITHMS],
      id_token_signing_alg_values_supported: [...algorithms],
      response_types_supported: [],
      subject_types_supported: ['public'],
      scopes_supported: [...scopes].sort(),
    };
  }

  async function addKey(alg: TestIssuerAlgorithm): Promise<string> {
    const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
    return useKey(alg, privateKey, await exportJWK(publicKey), undefined);
  }

  async function importKey(jwk: JWK & { alg: TestIssuerAlgorithm }): Promise<void> {
    let privateKey: CryptoKey;
    try {
      privateKey = (await importJWK(jwk, jwk.alg, { extractable: true })) as CryptoKey;
    } catch (cause) {
      throw optionError(
        'createTestIssuer()',
        'keys',
        jwk.kid,
        `has a key jose cannot import as ${jwk.alg} (${(cause as Error).message}); pass private JWKs from exportKeys()`,
        cause,
      );
    }
    const { kid: _kid, alg: _alg, use: _use, key_ops: _ops, ...pub } = publicPart(jwk);
    await useKey(jwk.alg, privateKey, pub, jwk.kid);
  }

  async function useKey(
    alg: TestIssuerAlgorithm,
    privateKey: CryptoKey,
    publicJwk: JWK,
    givenKid: string | undefined,
  ): Promise<string> {
    const kid = givenKid ?? (await calculateJwkThumbprint(publicJwk));
    for (const key of keys) if (key.alg === alg) key.current = false;
    keys.push({
      kid,
      alg,
      current: true,
      published: true,
      publicJwk: { ...publicJwk, kid, alg, use: 'sig' },
      privateKey,
    });
    return kid;
  }

  function jwks(): { keys: JWK[] } {
    return { keys: keys.filter((k) => k.published).map((k) => ({ ...k.publicJwk })) };
  }

  async function sign(
    claims: Record<string, unknown> = {},
    signOptions: TestIssuerSignOptions = {},
  ): Promise<string> {
    let key: KeyRecord | undefined;
    if (signOptions.kid !== undefined) {
      key = keys.find((k) => k.kid === signOptions.kid);
      if (!key) {
        throw optionError(
          'TestIssuer.sign()',
          'kid',
          signOptions.kid,
          'must name a key of this issuer; use a kid from keys()',
        );
      }
      if (signOptions.alg !== undefined && signOptions.alg !== key.alg) {
        throw optionError(
          'TestIssuer.sign()',
          'alg',
          signOptions.alg,
          `must match key ${key.kid} (${key.alg})`,
        );
      }
    } else {
      const alg = signOptions.alg ?? defaultAlgorithm;
      key = keys.find((k) => k.alg === alg && k.current);
      if (!key) {
        throw optionError(
          'TestIssuer.sign()',
          'alg',
          alg,
          'must have a key; add it to createTestIssuer({ algorithms })',
        );
      }
    }
    const expiresInMs = signOptions.expiresInMs ?? opts.tokenTtlMs;
    const now = Math.floor(clock.now() / 1000);
    const payload = withoutUndefined({
      iss: issuerUrl,
      aud: opts.audience,
      iat: now,
      exp: now + Math.floor(expiresInMs / 1000),
      ...claims,
    });
    const header = withoutUndefined({
      alg: key.alg,
      kid: key.kid,
      typ: 'at+jwt',
      ...signOptions.header,
    });
    return new SignJWT(payload).setProtectedHeader(header as { alg: string }).sign(key.privateKey);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    const endpoint = routes.get(path);
    if (!endpoint) {
      sendJson(res, 404, { error: 'not_found', error_description: `no endpoint at ${path}` });
      return;
    }
    counts[endpoint]++;
    const active = faults.get(endpoint);
    if (active) {
      active.remaining--;
      if (active.remaining <= 0) faults.delete(endpoint);
      if (await applyFault(active.fault, res)) return;
    }
    if (endpoint === 'metadata') {
      if (!isRead(req, res)) return;
      sendJson(res, 200, metadata(), { 'cache-control': 'public, max-age=300' });
    } else if (endpoint === 'jwks') {
      if (!isRead(req, res)) return;
      sendJson(res, 200, jwks(), { 'cache-control': 'public, max-age=300' });
    } else {
      await tokenEndpointHandler(req, res);
    }
  }

  /** Answers per `fault`; true when the request was consumed, false to answer normally after it. */
  async function applyFault(fault: TestIssuerFault, res: ServerResponse): Promise<boolean> {
    if (fault === 'slow' || typeof fault === 'object') {
      if (typeof fault === 'object' && 'status' in fault) {
        const body = fault.body ?? '';
        const text = typeof body === 'string' ? body : JSON.stringify(body);
        res.writeHead(fault.status, {
          'content-type': typeof body === 'string' ? 'text/plain' : 'application/json',
          ...fault.headers,
        });
        res.end(text);
        return true;
      }
      const delayMs = fault === 'slow' ? 1_000 : fault.delayMs;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          timers.delete(timer);
          resolve();
        }, delayMs);
        timer.unref();
        timers.add(timer);
      });
      return res.destroyed;
    }
    switch (fault) {
      case 'down':
        sendJson(res, 503, {
          error: 'temporarily_unavailable',
          error_description: 'the test issuer was told to be down',
        });
        return true;
      case 'reset':
        res.socket?.destroy();
        return true;
      case 'hang':
        return true;
      case 'garbage':
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('<html>not json{');
        return true;
      case 'huge': {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(`{"keys":[],"padding":"${'x'.repeat(HUGE_BYTES)}"}`);
        return true;
      }
    }
  }

  async function tokenEndpointHandler(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const record: {
      -readonly [K in keyof TestIssuerTokenRequest]: TestIssuerTokenRequest[K];
    } = {
      clientId: undefined,
      authMethod: undefined,
      grantType: undefined,
      scope: undefined,
      status: 200,
      error: undefined,
    };
    try {
      const body = await issueToken(req, record);
      sendJson(res, 200, body, { 'cache-control': 'no-store', pragma: 'no-cache' });
    } catch (error) {
      if (!(error instanceof OAuthError)) throw error;
      record.status = error.status;
      record.error = error.error;
      sendJson(
        res,
        error.status,
        { error: error.error, error_description: error.description },
        { 'cache-control': 'no-store', pragma: 'no-cache', ...error.headers },
      );
    } finally {
      tokenRequests.push({ ...record });
    }
  }

  async function issueToken(
    req: IncomingMessage,
    record: {
      clientId?: string;
      authMethod?: TestIssuerTokenRequest['authMethod'];
      grantType?: string;
      scope?: string;
    },
  ): Promise<Record<string, unknown>> {
    if (req.method !== 'POST') {
      throw new OAuthError(405, 'invalid_request', 'the token endpoint accepts POST only', {
        allow: 'POST',
      });
    }
    const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (type !== 'application/x-www-form-urlencoded') {
      throw new OAuthError(
        400,
        'invalid_request',
        'send the parameters as application/x-www-form-urlencoded',
      );
    }
    const params = await readForm(req);
    const client = await authenticateClient(req, params, record);
    record.clientId = client.clientId;

    const grantType = params.get('grant_type');
    record.grantType = grantType;
    if (grantType === undefined) {
      throw new OAuthError(400, 'invalid_request', 'the grant_type parameter is missing');
    }
    if (grantType !== 'client_credentials') {
      throw new OAuthError(
        400,
        'unsupported_grant_type',
        `grant_type ${grantType} is not supported; use client_credentials`,
      );
    }
    const requested = params.get('scope');
    record.scope = requested;
    let granted = client.scopes;
    if (requested !== undefined) {
      granted = [...new Set(requested.split(' ').filter((s) => s !== ''))];
      const refused = granted.filter((s) => !client.scopes.includes(s));
      if (refused.length > 0) {
        throw new OAuthError(
          400,
          'invalid_scope',
          `client ${client.clientId} may not ask for scope ${refused.join(' ')}`,
        );
      }
    }
    const audience = params.get('audience') ?? params.get('resource') ?? opts.audience;
    if (client.audiences && !client.audiences.includes(audience)) {
      throw new OAuthError(
        400,
        'invalid_target',
        `client ${client.clientId} may not ask for audience ${audience}`,
      );
    }
    const ttlMs = client.tokenTtlMs ?? opts.tokenTtlMs;
    const accessToken = await sign(
      {
        sub: client.clientId,
        client_id: client.clientId,
        aud: audience,
        jti: randomUUID(),
        ...(granted.length > 0 ? { scope: granted.join(' ') } : {}),
        ...client.claims,
      },
      { expiresInMs: ttlMs },
    );
    return {
      access_token: accessToken,
      token_type: 'Bearer',
      expires_in: Math.floor(ttlMs / 1000),
      ...(granted.length > 0 ? { scope: granted.join(' ') } : {}),
    };
  }

  async function authenticateClient(
    req: IncomingMessage,
    params: FormParams,
    record: { authMethod?: TestIssuerTokenRequest['authMethod'] },
  ): Promise<ClientRecord> {
    const authorization = req.headers.authorization;
    const basic = authorization?.match(/^Basic\s+(.+)$/i)?.[1];
    const usesPost = params.get('client_secret') !== undefined;
    const assertion = params.get('client_assertion');
    const methods = [basic !== undefined, usesPost, assertion !== undefined].filter(Boolean).length;
    const challenge = { 'www-authenticate': 'Basic realm="test-issuer", charset="UTF-8"' };
    if (methods > 1) {
      throw new OAuthError(400, 'invalid_request', 'use exactly one client authentication method');
    }
    if (basic !== undefined) {
      record.authMethod = 'client_secret_basic';
      const decoded = Buffer.from(basic, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon < 0) {
        throw new OAuthError(401, 'invalid_client', 'malformed Basic credentials', challenge);
      }
      const id = formDecode(decoded.slice(0, colon));
      const secret = formDecode(decoded.slice(colon + 1));
      return checkSecret(id, secret, challenge);
    }
    if (usesPost) {
      record.authMethod = 'client_secret_post';
      return checkSecret(
        params.get('client_id') ?? '',
        params.get('client_secret') ?? '',
        challenge,
      );
    }
    if (assertion !== undefined) {
      record.authMethod = 'private_key_jwt';
      return checkAssertion(assertion, params, challenge);
    }
    record.authMethod = 'none';
    throw new OAuthError(401, 'invalid_client', 'client authentication is required', challenge);
  }

  function checkSecret(
    id: string,
    secret: string,
    challenge: Record<string, string>,
  ): ClientRecord {
    const client = clients.get(id);
    if (!client || client.clientSecret === undefined || !safeEqual(secret, client.clientSecret)) {
      throw new OAuthError(401, 'invalid_client', 'unknown client or wrong secret', challenge);
    }
    return client;
  }

  async function checkAssertion(
    assertion: string,
    params: FormParams,
    challenge: Record<string, string>,
  ): Promise<ClientRecord> {
    if (params.get('client_assertion_type') !== ASSERTION_TYPE) {
      throw new OAuthError(
        400,
        'invalid_request',
        `client_assertion_type must be ${ASSERTION_TYPE}`,
      );
    }
    let subject: unknown;
    try {
      subject = decodeJwt(assertion).sub;
    } catch {
      throw new OAuthError(401, 'invalid_client', 'the client assertion is not a JWT', challenge);
    }
    const client = typeof subject === 'string' ? clients.get(subject) : undefined;
    const claimedId = params.get('client_id');
    if (
      !client ||
      client.getKey === undefined ||
      (claimedId !== undefined && claimedId !== subject)
    ) {
      throw new OAuthError(
        401,
        'invalid_client',
        'unknown client or no public key registered',
        challenge,
      );
    }
    const nowMs = clock.now();
    let jti: unknown;
    let exp: number | undefined;
    try {
      const verifyOptions = {
        issuer: client.clientId,
        subject: client.clientId,
        audience: [tokenEndpoint, issuerUrl],
        algorithms: ASSERTION_ALGORITHMS,
        currentDate: new Date(nowMs),
        requiredClaims: ['exp', 'jti'],
      };
      const { payload } =
        typeof client.getKey === 'function'
          ? await jwtVerify(assertion, client.getKey, verifyOptions)
          : await jwtVerify(assertion, client.getKey, verifyOptions);
      jti = payload.jti;
      exp = payload.exp;
    } catch (error) {
      throw new OAuthError(
        401,
        'invalid_client',
        `the client assertion was refused: ${(error as Error).message}`,
        challenge,
      );
    }
    for (const [id, until] of usedAssertionIds)
      if (until * 1000 < nowMs) usedAssertionIds.delete(id);
    const replayKey = `${client.clientId} ${String(jti)}`;
    if (usedAssertionIds.has(replayKey)) {
      throw new OAuthError(
        401,
        'invalid_client',
        'the client assertion was already used',
        challenge,
      );
    }
    usedAssertionIds.set(replayKey, exp ?? 0);
    return client;
  }

  function toClientRecord(client: TestIssuerClient): ClientRecord {
    const key = client.publicKey;
    let getKey: ClientRecord['getKey'];
    if (key === undefined) getKey = undefined;
    else if (isJwk(key)) getKey = createLocalJWKSet({ keys: [publicPart(key)] });
    else getKey = key as CryptoKey | KeyObject;
    return {
      clientId: client.clientId,
      clientSecret: client.clientSecret,
      getKey,
      scopes: [...(client.scopes ?? [])],
      audiences: client.audiences ? [...client.audiences] : undefined,
      claims: { ...client.claims },
      tokenTtlMs: client.tokenTtlMs,
    };
  }

  async function close(): Promise<void> {
    for (const timer of timers) clearTimeout(timer);
    timers.clear();
    if (!server.listening) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  const issuer: TestIssuer = {
    url: issuerUrl,
    origin,
    port,
    discoveryUrl: `${issuerUrl}/.well-known/openid-configuration`,
    metadataUrl: `${origin}/.well-known/oauth-authorization-server${opts.path}`,
    jwksUri,
    tokenEndpoint,
    audience: opts.audience,
    get metadata() {
      return metadata();
    },
    get requests() {
      return { ...counts };
    },
    get tokenRequests() {
      return [...tokenRequests];
    },
    sign,
    keys: () => keys.map((k) => ({ ...k, publicJwk: { ...k.publicJwk } })),
    jwks,
    async exportKeys() {
      const out: JWK[] = [];
      for (const key of keys.filter((k) => k.published)) {
        out.push({ ...(await exportJWK(key.privateKey)), kid: key.kid, alg: key.alg });
      }
      return out;
    },
    async rotateKeys(rotate = {}) {
      const algs = rotate.algorithms ?? algorithms;
      const previous = keys.filter((k) => algs.includes(k.alg));
      const kids: string[] = [];
      for (const alg of algs) kids.push(await addKey(alg));
      if (rotate.keepOld === false) for (const key of previous) key.published = false;
      return kids;
    },
    removeKey(kid) {
      const key = keys.find((k) => k.kid === kid);
      if (!key) {
        throw optionError(
          'TestIssuer.removeKey()',
          'kid',
          kid,
          'must name a key of this issuer; use a kid from keys()',
        );
      }
      key.published = false;
    },
    registerClient(client) {
      const parsed = parseAuthOptions(clientSchema, client, 'TestIssuer.registerClient()');
      clients.set(parsed.clientId, toClientRecord(parsed));
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
      if (fault === null) {
        faults.delete(endpoint);
        return;
      }
      const parsed = parseAuthOptions(
        faultSchema,
        fault,
        'TestIssuer.setFault()',
      ) as TestIssuerFault;
      const times = faultOptions.times ?? Number.POSITIVE_INFINITY;
      if (!(times > 0)) {
        throw optionError('TestIssuer.setFault()', 'times', times, 'must be a positive number');
      }
      faults.set(endpoint, { fault: parsed, remaining: times });
    },
    setJwksFault(fault, faultOptions) {
      issuer.setFault('jwks', fault, faultOptions);
    },
    resetRequestCounts() {
      counts.metadata = 0;
      counts.jwks = 0;
      counts.token = 0;
      tokenRequests.length = 0;
    },
    close,
    [Symbol.asyncDispose]: close,
  };
  return issuer;
}

/** Parsed form parameters; `get` is undefined for a missing one. */
interface FormParams {
  get(name: string): string | undefined;
}

async function readForm(req: IncomingMessage): Promise<FormParams> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_FORM_BYTES) {
      throw new OAuthError(
        413,
        'invalid_request',
        `the request body exceeds ${MAX_FORM_BYTES} bytes`,
      );
    }
    chunks.push(chunk);
  }
  const params = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
  const seen = new Set<string>();
  for (const name of params.keys()) {
    if (seen.has(name)) {
      throw new OAuthError(400, 'invalid_request', `parameter ${name} is repeated`);
    }
    seen.add(name);
  }
  return { get: (name) => params.get(name) ?? undefined };
}

function isRead(req: IncomingMessage, res: ServerResponse): boolean {
  if (req.method === 'GET' || req.method === 'HEAD') return true;
  sendJson(
    res,
    405,
    { error: 'invalid_request', error_description: 'use GET' },
    { allow: 'GET, HEAD' },
  );
  return false;
}

function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(res.req?.method === 'HEAD' ? undefined : text);
}

function formDecode(value: string): string {
  try {
    return decodeURIComponent(value.replace(/\+/g, ' '));
  } catch {
    return value;
  }
}

function safeEqual(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a).digest();
  const hb = createHash('sha256').update(b).digest();
  return timingSafeEqual(ha, hb);
}

function withoutUndefined(record: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(record)) if (value !== undefined) out[key] = value;
  return out;
}

function isJwk(key: object): key is JWK {
  return typeof (key as { kty?: unknown }).kty === 'string';
}

function publicPart(jwk: JWK): JWK {
  const {
    d: _d,
    p: _p,
    q: _q,
    dp: _dp,
    dq: _dq,
    qi: _qi,
    ...rest
  } = jwk as JWK & Record<string, unknown>;
  return rest as JWK;
}
