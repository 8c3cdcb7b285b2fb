import type { CryptoKey, JWK, KeyObject } from 'jose';

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
  clientSecret?: string | undefined;
  /** Public key (CryptoKey, KeyObject or public JWK) that verifies `private_key_jwt` assertions. */
  publicKey?: CryptoKey | KeyObject | JWK | undefined;
  /** Scopes the client may ask for; a request without `scope` is granted all of them. */
  scopes?: string[] | undefined;
  /** Audiences (`audience` or `resource` parameter) the client may ask for; any when omitted. */
  audiences?: string[] | undefined;
  /** Extra claims put into every access token issued to this client. */
  claims?: Record<string, unknown> | undefined;
  /** Lifetime of this client's access tokens; the issuer's `tokenTtlMs` when omitted. */
  tokenTtlMs?: number | undefined;
}

/** Options of {@link createTestIssuer}. */
export interface TestIssuerOptions {
  /** Algorithms to create a key for (one current key each). Default `['RS256', 'ES256', 'EdDSA']`. */
  algorithms?: TestIssuerAlgorithm[] | undefined;
  /** Algorithm `sign()` and the token endpoint use when none is given. Default: the first of `algorithms`. */
  defaultAlgorithm?: TestIssuerAlgorithm | undefined;
  /** Default `aud` of signed tokens. Default `'https://api.test'`. */
  audience?: string | undefined;
  /** Default lifetime of signed tokens. Default 3 600 000 (one hour). */
  tokenTtlMs?: number | undefined;
  /** Clients the token endpoint accepts (more with `registerClient`). */
  clients?: TestIssuerClient[] | undefined;
  /** Time source for `iat`/`exp` and for checking client assertions (e.g. a ManualClock). Default `Date`. */
  clock?: { now(): number } | undefined;
  /** Interface to listen on. Default `'127.0.0.1'`. */
  host?: string | undefined;
  /** Port to listen on; `0` (default) picks a free one. */
  port?: number | undefined;
  /** Path of the issuer identifier, e.g. `'/realms/test'`. Default `''` (the issuer is the origin). */
  path?: string | undefined;
  /** Origin advertised in `iss` and metadata when the issuer sits behind a proxy. Default: its own URL. */
  publicUrl?: string | undefined;
  /**
   * Private JWKs (each with `alg`: RS256, ES256 or EdDSA) to sign with instead of fresh keys — e.g.
   * what `exportKeys()` returned before a restart, so tokens survive it. The last key of an
   * algorithm is its current one; algorithms without a key get a fresh one.
   */
  keys?: JWK[] | undefined;
}

/** Options of {@link TestIssuer.sign}. */
export interface TestIssuerSignOptions {
  /** Algorithm; picks that algorithm's current key. Default: the issuer's `defaultAlgorithm`. */
  alg?: TestIssuerAlgorithm | undefined;
  /** Signs with this key (any key ever created, including rotated-out or removed ones). */
  kid?: string | undefined;
  /** Lifetime used for the default `exp`. Default: the issuer's `tokenTtlMs`. */
  expiresInMs?: number | undefined;
  /**
   * Protected header fields merged over the defaults `{ alg, kid, typ: 'at+jwt' }`; a field set to
   * `undefined` is removed (e.g. `{ typ: undefined }`), any other value is sent as given.
   */
  header?: Record<string, unknown> | undefined;
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
    algorithms?: TestIssuerAlgorithm[] | undefined;
    keepOld?: boolean | undefined;
  }): Promise<string[]>;
  /** Removes a key from the JWKS; `sign({ kid })` can still use it (to test that verifiers refuse it). */
  removeKey(kid: string): void;
  /** Registers (or replaces) a client of the token endpoint. */
  registerClient(client: TestIssuerClient): void;
  /** Makes `endpoint` show `fault` (for the next `times` requests, or until cleared with `null`). */
  setFault(
    endpoint: TestIssuerEndpoint,
    fault: TestIssuerFault | null,
    options?: { times?: number | undefined },
  ): void;
  /** Shorthand for `setFault('jwks', fault, options)`. */
  setJwksFault(fault: TestIssuerFault | null, options?: { times?: number | undefined }): void;
  /** Sets every request counter back to zero and empties `tokenRequests`. */
  resetRequestCounts(): void;
  /** Stops the server, dropping open connections (including hung ones). */
  close(): Promise<void>;
}
