import {
  type CryptoKey,
  calculateJwkThumbprint,
  exportJWK,
  generateKeyPair,
  importJWK,
  type JWK,
  SignJWT,
} from 'jose';
import { optionError } from '../parse-options.ts';
import type { TestIssuerAlgorithm, TestIssuerKey, TestIssuerSignOptions } from './types.ts';

/** One signing key of the issuer. */
interface KeyRecord {
  kid: string;
  alg: TestIssuerAlgorithm;
  current: boolean;
  published: boolean;
  publicJwk: JWK;
  privateKey: CryptoKey;
}

/** What `sign()` puts into a token unless the claims say otherwise. */
export interface SigningDefaults {
  /** The `iss` (known once the server listens). */
  issuer: string;
  readonly audience: string;
  readonly tokenTtlMs: number;
  readonly defaultAlgorithm: TestIssuerAlgorithm;
  readonly clock: { now(): number };
}

/**
 * The test issuer's keys: one current key per algorithm, older ones kept (published or not) so
 * tests can sign with a rotated-out or removed key; signs tokens with them. @internal
 */
export class KeyRing {
  readonly #keys: KeyRecord[] = [];
  readonly #defaults: SigningDefaults;

  constructor(defaults: SigningDefaults) {
    this.#defaults = defaults;
  }

  /** Creates a fresh key pair for `alg` and makes it current; returns its kid (the JWK thumbprint). */
  async add(alg: TestIssuerAlgorithm): Promise<string> {
    const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
    return this.#use(alg, privateKey, await exportJWK(publicKey), undefined);
  }

  /** Adds a private JWK (e.g. from `exportKeys()`) as the current key of its `alg`. */
  async import(jwk: JWK & { alg: TestIssuerAlgorithm }): Promise<void> {
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
    await this.#use(jwk.alg, privateKey, pub, jwk.kid);
  }

  /** True when some key signs `alg`. */
  has(alg: TestIssuerAlgorithm): boolean {
    return this.#keys.some((k) => k.alg === alg);
  }

  /** Every key ever created, as copies. */
  list(): readonly TestIssuerKey[] {
    return this.#keys.map((k) => ({ ...k, publicJwk: { ...k.publicJwk } }));
  }

  /** The JWKS document: the public keys still published. */
  jwks(): { keys: JWK[] } {
    return { keys: this.#keys.filter((k) => k.published).map((k) => ({ ...k.publicJwk })) };
  }

  /** The private JWKs of the published keys, to pass back as `keys` later. */
  async exportPublished(): Promise<JWK[]> {
    const out: JWK[] = [];
    for (const key of this.#keys.filter((k) => k.published)) {
      out.push({ ...(await exportJWK(key.privateKey)), kid: key.kid, alg: key.alg });
    }
    return out;
  }

  /** New current keys for `algorithms`; the old ones leave the JWKS unless `keepOld`. */
  async rotate(algorithms: readonly TestIssuerAlgorithm[], keepOld: boolean): Promise<string[]> {
    const previous = this.#keys.filter((k) => algorithms.includes(k.alg));
    const kids: string[] = [];
    for (const alg of algorithms) kids.push(await this.add(alg));
    if (!keepOld) for (const key of previous) key.published = false;
    return kids;
  }

  /** Takes `kid` out of the JWKS (it can still sign). */
  unpublish(kid: string): void {
    const key = this.#keys.find((k) => k.kid === kid);
    if (!key) {
      throw optionError(
        'TestIssuer.removeKey()',
        'kid',
        kid,
        'must name a key of this issuer; use a kid from keys()',
      );
    }
    key.published = false;
  }

  /** Signs `claims` over the defaults (`iss`, `aud`, `iat`, `exp`; header `typ: at+jwt`, `kid`). */
  async sign(
    claims: Record<string, unknown> = {},
    options: TestIssuerSignOptions = {},
  ): Promise<string> {
    const key = this.#signingKey(options);
    const { issuer, audience, tokenTtlMs, clock } = this.#defaults;
    const expiresInMs = options.expiresInMs ?? tokenTtlMs;
    const now = Math.floor(clock.now() / 1000);
    const payload = withoutUndefined({
      iss: issuer,
      aud: audience,
      iat: now,
      exp: now + Math.floor(expiresInMs / 1000),
      ...claims,
    });
    const header = withoutUndefined({
      alg: key.alg,
      kid: key.kid,
      typ: 'at+jwt',
      ...options.header,
    });
    return new SignJWT(payload).setProtectedHeader(header as { alg: string }).sign(key.privateKey);
  }

  #signingKey(options: TestIssuerSignOptions): KeyRecord {
    if (options.kid !== undefined) {
      const key = this.#keys.find((k) => k.kid === options.kid);
      if (!key) {
        throw optionError(
          'TestIssuer.sign()',
          'kid',
          options.kid,
          'must name a key of this issuer; use a kid from keys()',
        );
      }
      if (options.alg !== undefined && options.alg !== key.alg) {
        throw optionError(
          'TestIssuer.sign()',
          'alg',
          options.alg,
          `must match key ${key.kid} (${key.alg})`,
        );
      }
      return key;
    }
    const alg = options.alg ?? this.#defaults.defaultAlgorithm;
    const key = this.#keys.find((k) => k.alg === alg && k.current);
    if (!key) {
      throw optionError(
        'TestIssuer.sign()',
        'alg',
        alg,
        'must have a key; add it to createTestIssuer({ algorithms })',
      );
    }
    return key;
  }

  async #use(
    alg: TestIssuerAlgorithm,
    privateKey: CryptoKey,
    publicJwk: JWK,
    givenKid: string | undefined,
  ): Promise<string> {
    const kid = givenKid ?? (await calculateJwkThumbprint(publicJwk));
    for (const key of this.#keys) if (key.alg === alg) key.current = false;
    this.#keys.push({
      kid,
      alg,
      current: true,
      published: true,
      publicJwk: { ...publicJwk, kid, alg, use: 'sig' },
      privateKey,
    });
    return kid;
  }
}

/** A JWK without its private members. @internal */
export function publicPart(jwk: JWK): JWK {
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

function withoutUndefined(record: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(record)) if (value !== undefined) out[key] = value;
  return out;
}
