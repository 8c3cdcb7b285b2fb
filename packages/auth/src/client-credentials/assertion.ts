import { randomUUID } from 'node:crypto';
import type { Clock } from '@ballast/kernel';
import { type CryptoKey, importJWK, type JWK, type KeyObject, SignJWT } from 'jose';
import { optionError } from '../parse-options.ts';
import type { PrivateKeyJwtOptions } from './options.ts';

/** The `client_assertion_type` of an RFC 7523 assertion. @internal */
export const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

/**
 * Signs `private_key_jwt` client assertions (RFC 7523 §2.2): `iss` = `sub` = the client id, `aud`
 * = the issuer when known (else the token endpoint), a fresh `jti` each time, a short `exp`. The
 * key is imported once; a key that cannot sign its `alg` fails as `INVALID_OPTIONS`. @internal
 */
export class AssertionSigner {
  readonly #jwt: Required<Pick<PrivateKeyJwtOptions, 'key' | 'alg'>> & PrivateKeyJwtOptions;
  readonly #clientId: string;
  readonly #issuer: string | undefined;
  readonly #clock: Clock;
  #key: Promise<CryptoKey | KeyObject | Uint8Array> | undefined;

  constructor(
    jwt: PrivateKeyJwtOptions & { expiresInMs: number },
    clientId: string,
    issuer: string | undefined,
    clock: Clock,
  ) {
    this.#jwt = jwt;
    this.#clientId = clientId;
    this.#issuer = issuer;
    this.#clock = clock;
  }

  /** A new assertion for a request to `endpoint`. */
  async sign(endpoint: string): Promise<string> {
    const jwt = this.#jwt;
    this.#key ??= isJwk(jwt.key) ? importJWK(jwt.key, jwt.alg) : Promise.resolve(jwt.key);
    const now = Math.floor(this.#clock.now() / 1000);
    try {
      return await new SignJWT({ jti: randomUUID() })
        .setProtectedHeader(jwt.kid ? { alg: jwt.alg, kid: jwt.kid } : { alg: jwt.alg })
        .setIssuer(this.#clientId)
        .setSubject(this.#clientId)
        .setAudience(this.#issuer ?? endpoint)
        .setIssuedAt(now)
        .setExpirationTime(now + Math.floor((jwt.expiresInMs ?? 60_000) / 1000))
        .sign(await this.#key);
    } catch (cause) {
      this.#key = undefined;
      throw optionError(
        'clientCredentials()',
        'privateKeyJwt.key',
        '(hidden)',
        `cannot sign ${jwt.alg} (${(cause as Error).message}); pass the client's private key for that algorithm`,
        cause,
      );
    }
  }
}

function isJwk(key: object): key is JWK {
  return typeof (key as { kty?: unknown }).kty === 'string';
}
