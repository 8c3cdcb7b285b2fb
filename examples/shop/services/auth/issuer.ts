/**
 * The shop's OAuth 2.0 / OpenID Connect issuer as a `node:http` request handler:
 * - `GET /.well-known/openid-configuration` (and RFC 8414 `/.well-known/oauth-authorization-server`),
 * - `GET /jwks.json` — every key of the ring (rotation publishes a key before it signs),
 * - `POST /token` — `password` (users; the admin also needs a TOTP code, `otp`) and
 *   `client_credentials` (services, `client_secret_basic` or `client_secret_post`),
 * - `/admin/keys` — list, add, make signer, remove (an admin token: scope `admin`, TOTP-verified).
 * Access tokens are ES256 JWTs (`typ: at+jwt`, RFC 9068) that services check with
 * `@ballast/auth`'s `createVerifier` + `requireAuth`.
 */
import { randomUUID, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { verifyTotp } from '@ballast/auth';
import { createLocalJWKSet, jwtVerify, SignJWT } from 'jose';
import { ALG, type KeyRing } from './keys.ts';

export interface ClientConfig {
  clientId: string;
  clientSecret: string;
  scopes: string[];
}

export interface IssuerConfig {
  /** The `iss` of every token: this server's public base URL, no trailing slash. */
  issuer: string;
  /** `aud` of every token. */
  audience: string;
  ring: KeyRing;
  clients: ClientConfig[];
  /** Scopes a shopper (any user name, password `shopperPassword`) may get. */
  userScopes: string[];
  shopperPassword: string;
  admin: { username: string; password: string; totpSecret: string; scopes: string[] };
  userTokenTtlS: number;
  serviceTokenTtlS: number;
}

const USERNAME = /^[a-z][a-z0-9._-]{0,63}$/;

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function send(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'cache-control': 'no-store',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

function oauthError(
  res: ServerResponse,
  status: number,
  error: string,
  description: string,
  headers: Record<string, string> = {},
): void {
  send(res, status, { error, error_description: description }, headers);
}

async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  let body = '';
  for await (const chunk of req) {
    body += chunk;
    if (body.length > 16_384) throw new Error('body too large');
  }
  return new URLSearchParams(body);
}

/** Grants the requested scopes if every one is allowed; no request = every allowed scope. */
function grant(requested: string | null, allowed: string[]): string[] | undefined {
  if (!requested?.trim()) return allowed;
  const asked = requested.trim().split(/\s+/);
  return asked.every((s) => allowed.includes(s)) ? asked : undefined;
}

export function createIssuer(config: IssuerConfig) {
  const lastTotpStep = new Map<string, number>();
  const counters = { tokens: 0, refused: 0 };

  const metadata = () => ({
    issuer: config.issuer,
    jwks_uri: `${config.issuer}/jwks.json`,
    token_endpoint: `${config.issuer}/token`,
    grant_types_supported: ['password', 'client_credentials'],
    token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
    response_types_supported: ['token'],
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: [ALG],
    scopes_supported: [
      ...new Set([
        ...config.userScopes,
        ...config.admin.scopes,
        ...config.clients.flatMap((c) => c.scopes),
      ]),
    ],
  });

  async function sign(
    subject: string,
    scopes: string[],
    ttlS: number,
    extra: Record<string, unknown>,
  ) {
    const key = config.ring.signer();
    const token = await new SignJWT({ scope: scopes.join(' '), jti: randomUUID(), ...extra })
      .setProtectedHeader({ alg: ALG, kid: key.kid, typ: 'at+jwt' })
      .setIssuer(config.issuer)
      .setAudience(config.audience)
      .setSubject(subject)
      .setIssuedAt()
      .setExpirationTime(`${ttlS}s`)
      .sign(key.privateKey);
    counters.tokens++;
    return { access_token: token, token_type: 'Bearer', expires_in: ttlS, scope: scopes.join(' ') };
  }

  function clientOf(
    req: IncomingMessage,
    form: URLSearchParams,
  ): { id: string; secret: string } | undefined {
    const header = req.headers.authorization;
    if (header?.startsWith('Basic ')) {
      const decoded = Buffer.from(header.slice(6), 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon < 0) return undefined;
      return {
        id: decodeURIComponent(decoded.slice(0, colon).replace(/\+/g, ' ')),
        secret: decodeURIComponent(decoded.slice(colon + 1).replace(/\+/g, ' ')),
      };
    }
    const id = form.get('client_id');
    const secret = form.get('client_secret');
    return id && secret ? { id, secret } : undefined;
  }

  async function token(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const form = await readForm(req);
    const grantType = form.get('grant_type');
    if (grantType === 'client_credentials') {
      const credentials = clientOf(req, form);
      const client = credentials && config.clients.find((c) => c.clientId === credentials.id);
      if (!credentials || !client || !safeEqual(client.clientSecret, credentials.secret)) {
        counters.refused++;
        return oauthError(res, 401, 'invalid_client', 'unknown client or wrong secret', {
          'www-authenticate': 'Basic realm="shop"',
        });
      }
      const scopes = grant(form.get('scope'), client.scopes);
      if (!scopes)
        return oauthError(res, 400, 'invalid_scope', `allowed scopes: ${client.scopes.join(' ')}`);
      return send(
        res,
        200,
        await sign(client.clientId, scopes, config.serviceTokenTtlS, {
          client_id: client.clientId,
        }),
      );
    }
    if (grantType === 'password') {
      const username = form.get('username') ?? '';
      const password = form.get('password') ?? '';
      const admin = config.admin;
      if (username === admin.username) {
        if (!safeEqual(password, admin.password)) {
          counters.refused++;
          return oauthError(res, 400, 'invalid_grant', 'wrong user name or password');
        }
        const otp = form.get('otp') ?? '';
        if (!otp)
          return oauthError(
            res,
            400,
            'invalid_grant',
            'second factor required: send the TOTP code as "otp"',
          );
        const check = verifyTotp(otp, {
          secret: admin.totpSecret,
          lastUsedStep: lastTotpStep.get(username),
        });
        if (!check.valid) {
          counters.refused++;
          return oauthError(res, 400, 'invalid_grant', `TOTP code refused (${check.reason})`);
        }
        lastTotpStep.set(username, check.step);
        const scopes = grant(form.get('scope'), admin.scopes);
        if (!scopes)
          return oauthError(res, 400, 'invalid_scope', `allowed scopes: ${admin.scopes.join(' ')}`);
        return send(
          res,
          200,
          await sign(username, scopes, config.userTokenTtlS, { amr: ['pwd', 'otp'] }),
        );
      }
      if (!USERNAME.test(username) || !safeEqual(password, config.shopperPassword)) {
        counters.refused++;
        return oauthError(res, 400, 'invalid_grant', 'wrong user name or password');
      }
      const scopes = grant(form.get('scope'), config.userScopes);
      if (!scopes)
        return oauthError(
          res,
          400,
          'invalid_scope',
          `allowed scopes: ${config.userScopes.join(' ')}`,
        );
      return send(res, 200, await sign(username, scopes, config.userTokenTtlS, { amr: ['pwd'] }));
    }
    return oauthError(
      res,
      400,
      'unsupported_grant_type',
      'use grant_type=password or client_credentials',
    );
  }

  /** Admin calls: a token from this issuer with scope `admin` and a second factor. */
  async function isAdmin(req: IncomingMessage): Promise<boolean> {
    const header = req.headers.authorization ?? '';
    if (!header.startsWith('Bearer ')) return false;
    try {
      const { payload } = await jwtVerify(header.slice(7), createLocalJWKSet(config.ring.jwks()), {
        issuer: config.issuer,
        audience: config.audience,
        algorithms: [ALG],
        typ: 'at+jwt',
      });
      const scopes = String(payload.scope ?? '').split(' ');
      return scopes.includes('admin') && Array.isArray(payload.amr) && payload.amr.includes('otp');
    } catch {
      return false;
    }
  }

  async function adminKeys(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    if (!(await isAdmin(req)))
      return send(
        res,
        401,
        {
          error: 'invalid_token',
          error_description: 'an admin token (scope admin, TOTP) is required',
        },
        {
          'www-authenticate': 'Bearer realm="shop-admin", scope="admin"',
        },
      );
    const ring = config.ring;
    const [, , , kid, action] = path.split('/'); // '', 'admin', 'keys', kid?, action?
    if (req.method === 'GET' && !kid) return send(res, 200, { keys: ring.list() });
    if (req.method === 'POST' && !kid) {
      const key = await ring.add();
      return send(res, 201, { kid: key.kid, keys: ring.list() });
    }
    if (req.method === 'POST' && kid && action === 'activate') {
      if (!(await ring.activate(kid))) return send(res, 404, { error: 'unknown_key', kid });
      return send(res, 200, { signer: kid, keys: ring.list() });
    }
    if (req.method === 'DELETE' && kid && !action) {
      const result = await ring.remove(kid);
      if (result === 'unknown') return send(res, 404, { error: 'unknown_key', kid });
      if (result === 'signer')
        return send(res, 409, {
          error: 'key_is_signer',
          error_description: 'make another key the signer first',
        });
      return send(res, 200, { removed: kid, keys: ring.list() });
    }
    return send(res, 405, { error: 'method_not_allowed' });
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (
      req.method === 'GET' &&
      (path === '/.well-known/openid-configuration' ||
        path === '/.well-known/oauth-authorization-server')
    ) {
      send(res, 200, metadata(), { 'cache-control': 'max-age=60' });
      return true;
    }
    if (req.method === 'GET' && path === '/jwks.json') {
      send(res, 200, config.ring.jwks(), { 'cache-control': 'no-cache' });
      return true;
    }
    if (path === '/token') {
      if (req.method !== 'POST') oauthError(res, 405, 'invalid_request', 'POST the token request');
      else await token(req, res);
      return true;
    }
    if (path === '/admin/keys' || path.startsWith('/admin/keys/')) {
      await adminKeys(req, res, path);
      return true;
    }
    return false;
  }

  return { handle, metadata, counters };
}
