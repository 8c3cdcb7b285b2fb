import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  type CryptoKey,
  createLocalJWKSet,
  decodeJwt,
  type JWK,
  type JWTVerifyGetKey,
  jwtVerify,
  type KeyObject,
} from 'jose';
import { ASYMMETRIC_ALGORITHMS } from '../verifier-options.ts';
import { type FormParams, formDecode, OAuthError, readForm, sendJson } from './http.ts';
import { type KeyRing, publicPart } from './key-ring.ts';
import type { TestIssuerClient, TestIssuerTokenRequest } from './types.ts';

const ASSERTION_ALGORITHMS: string[] = [...ASYMMETRIC_ALGORITHMS];
const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

/** A registered client, ready for authentication. */
interface ClientRecord {
  clientId: string;
  clientSecret: string | undefined;
  getKey: JWTVerifyGetKey | CryptoKey | KeyObject | undefined;
  scopes: string[];
  audiences: string[] | undefined;
  claims: Record<string, unknown>;
  tokenTtlMs: number | undefined;
}

/** What the token endpoint needs from the issuer. @internal */
export interface TokenEndpointContext {
  readonly keys: KeyRing;
  readonly clock: { now(): number };
  readonly audience: string;
  readonly tokenTtlMs: number;
  /** The issuer identifier and the endpoint's URL, both accepted as an assertion's `aud`. */
  issuer: string;
  tokenEndpoint: string;
}

/**
 * The test issuer's `client_credentials` token endpoint (RFC 6749 §4.4): client authentication
 * by `client_secret_basic`, `client_secret_post` or `private_key_jwt` (RFC 7523, single-use `jti`),
 * scope and audience checks, RFC 6749 §5.2 error answers, and a record of every request. @internal
 */
export class TokenEndpoint {
  readonly #context: TokenEndpointContext;
  readonly #clients = new Map<string, ClientRecord>();
  readonly #usedAssertionIds = new Map<string, number>();
  readonly #requests: TestIssuerTokenRequest[] = [];

  constructor(context: TokenEndpointContext) {
    this.#context = context;
  }

  /** Registers (or replaces) a client. */
  register(client: TestIssuerClient): void {
    this.#clients.set(client.clientId, this.#toClientRecord(client));
  }

  /** Every scope some client may ask for, sorted (for the metadata's `scopes_supported`). */
  scopes(): string[] {
    const scopes = new Set<string>();
    for (const client of this.#clients.values())
      for (const scope of client.scopes) scopes.add(scope);
    return [...scopes].sort();
  }

  /** The requests answered so far, in order. */
  get requests(): readonly TestIssuerTokenRequest[] {
    return [...this.#requests];
  }

  /** Forgets the recorded requests. */
  resetRequests(): void {
    this.#requests.length = 0;
  }

  /** Answers one request to the token endpoint and records it. */
  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
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
      const body = await this.#issueToken(req, record);
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
      this.#requests.push({ ...record });
    }
  }

  async #issueToken(
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
    const client = await this.#authenticateClient(req, params, record);
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
    const audience = params.get('audience') ?? params.get('resource') ?? this.#context.audience;
    if (client.audiences && !client.audiences.includes(audience)) {
      throw new OAuthError(
        400,
        'invalid_target',
        `client ${client.clientId} may not ask for audience ${audience}`,
      );
    }
    const ttlMs = client.tokenTtlMs ?? this.#context.tokenTtlMs;
    const accessToken = await this.#context.keys.sign(
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

  async #authenticateClient(
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
      return this.#checkSecret(id, secret, challenge);
    }
    if (usesPost) {
      record.authMethod = 'client_secret_post';
      return this.#checkSecret(
        params.get('client_id') ?? '',
        params.get('client_secret') ?? '',
        challenge,
      );
    }
    if (assertion !== undefined) {
      record.authMethod = 'private_key_jwt';
      return this.#checkAssertion(assertion, params, challenge);
    }
    record.authMethod = 'none';
    throw new OAuthError(401, 'invalid_client', 'client authentication is required', challenge);
  }

  #checkSecret(id: string, secret: string, challenge: Record<string, string>): ClientRecord {
    const client = this.#clients.get(id);
    if (!client || client.clientSecret === undefined || !safeEqual(secret, client.clientSecret)) {
      throw new OAuthError(401, 'invalid_client', 'unknown client or wrong secret', challenge);
    }
    return client;
  }

  async #checkAssertion(
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
    const client = typeof subject === 'string' ? this.#clients.get(subject) : undefined;
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
    const nowMs = this.#context.clock.now();
    let jti: unknown;
    let exp: number | undefined;
    try {
      const verifyOptions = {
        issuer: client.clientId,
        subject: client.clientId,
        audience: [this.#context.tokenEndpoint, this.#context.issuer],
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
    for (const [id, until] of this.#usedAssertionIds)
      if (until * 1000 < nowMs) this.#usedAssertionIds.delete(id);
    const replayKey = `${client.clientId} ${String(jti)}`;
    if (this.#usedAssertionIds.has(replayKey)) {
      throw new OAuthError(
        401,
        'invalid_client',
        'the client assertion was already used',
        challenge,
      );
    }
    this.#usedAssertionIds.set(replayKey, exp ?? 0);
    return client;
  }

  #toClientRecord(client: TestIssuerClient): ClientRecord {
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
}

function safeEqual(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a).digest();
  const hb = createHash('sha256').update(b).digest();
  return timingSafeEqual(ha, hb);
}

function isJwk(key: object): key is JWK {
  return typeof (key as { kty?: unknown }).kty === 'string';
}
