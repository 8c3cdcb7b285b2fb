/**
 * The issuer's signing keys: a ring of ES256 key pairs (jose), one of them the signer. Rotation is
 * three admin steps — add a key (published in the JWKS at once, not used yet), make it the signer,
 * remove the old one — so verifiers learn a key before any token carries its `kid`, and old tokens
 * keep verifying until their key is removed. The ring is kept in Redis, so a restarted (or second)
 * issuer signs with the same keys and the tokens already out stay valid.
 */
import { randomUUID } from 'node:crypto';
import { type CryptoKey, exportJWK, generateKeyPair, importJWK, type JWK } from 'jose';

export const ALG = 'ES256';

export interface RingKey {
  kid: string;
  createdAt: number;
  privateJwk: JWK;
  publicJwk: JWK;
  privateKey: CryptoKey;
}

interface StoredRing {
  signer: string;
  keys: { kid: string; createdAt: number; privateJwk: JWK }[];
}

export interface KeyStore {
  load(): Promise<string | null>;
  save(json: string): Promise<void>;
}

export async function newKey(): Promise<RingKey> {
  const pair = await generateKeyPair(ALG, { extractable: true });
  const kid = `k-${randomUUID().slice(0, 8)}`;
  const privateJwk = { ...(await exportJWK(pair.privateKey)), kid, alg: ALG, use: 'sig' };
  return fromPrivate(kid, Date.now(), privateJwk);
}

async function fromPrivate(kid: string, createdAt: number, privateJwk: JWK): Promise<RingKey> {
  const { d: _d, ...publicJwk } = privateJwk;
  const privateKey = (await importJWK(privateJwk, ALG)) as CryptoKey;
  return {
    kid,
    createdAt,
    privateJwk,
    publicJwk: { ...publicJwk, kid, alg: ALG, use: 'sig' },
    privateKey,
  };
}

export class KeyRing {
  keys: RingKey[] = [];
  signerKid = '';
  readonly store: KeyStore;

  constructor(store: KeyStore) {
    this.store = store;
  }

  /** Loads the ring from the store, or creates one key and stores it. */
  async init(): Promise<void> {
    const json = await this.store.load();
    if (json) {
      const stored = JSON.parse(json) as StoredRing;
      this.keys = await Promise.all(
        stored.keys.map((k) => fromPrivate(k.kid, k.createdAt, k.privateJwk)),
      );
      this.signerKid = stored.signer;
      if (this.keys.some((k) => k.kid === this.signerKid)) return;
    }
    const key = await newKey();
    this.keys = [key];
    this.signerKid = key.kid;
    await this.persist();
  }

  /** Re-reads the store (another instance may have rotated). */
  async reload(): Promise<void> {
    const json = await this.store.load();
    if (!json) return;
    const stored = JSON.parse(json) as StoredRing;
    const known = new Map(this.keys.map((k) => [k.kid, k]));
    this.keys = await Promise.all(
      stored.keys.map((k) => known.get(k.kid) ?? fromPrivate(k.kid, k.createdAt, k.privateJwk)),
    );
    this.signerKid = stored.signer;
  }

  signer(): RingKey {
    const key = this.keys.find((k) => k.kid === this.signerKid);
    if (!key) throw new Error('no signing key');
    return key;
  }

  jwks(): { keys: JWK[] } {
    return { keys: this.keys.map((k) => k.publicJwk) };
  }

  list() {
    return this.keys.map((k) => ({
      kid: k.kid,
      createdAt: new Date(k.createdAt).toISOString(),
      signer: k.kid === this.signerKid,
    }));
  }

  async add(): Promise<RingKey> {
    const key = await newKey();
    this.keys.push(key);
    await this.persist();
    return key;
  }

  async activate(kid: string): Promise<boolean> {
    if (!this.keys.some((k) => k.kid === kid)) return false;
    this.signerKid = kid;
    await this.persist();
    return true;
  }

  /** Removes a key; the signer cannot be removed (activate another first). */
  async remove(kid: string): Promise<'removed' | 'unknown' | 'signer'> {
    if (kid === this.signerKid) return 'signer';
    const before = this.keys.length;
    this.keys = this.keys.filter((k) => k.kid !== kid);
    if (this.keys.length === before) return 'unknown';
    await this.persist();
    return 'removed';
  }

  private async persist(): Promise<void> {
    const stored: StoredRing = {
      signer: this.signerKid,
      keys: this.keys.map((k) => ({
        kid: k.kid,
        createdAt: k.createdAt,
        privateJwk: k.privateJwk,
      })),
    };
    await this.store.save(JSON.stringify(stored));
  }
}
