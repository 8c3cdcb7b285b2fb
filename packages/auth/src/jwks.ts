import { type Clock, type Listener, ListenerList, type Subscription } from '@ballast/kernel';
import { importJWK, type JWK } from 'jose';
import {
  type AuthError,
  InvalidOptionsError,
  InvalidTokenError,
  isAuthError,
  JwksUnavailableError,
} from './errors.ts';
import { FetchJsonError, fetchJson } from './fetch-json.ts';
import type { FetchLike } from './http-exchange.ts';
import { ATTR, type Instruments, type VerifierInstruments } from './telemetry.ts';

/** Limits and timings of the remote key set (all times in milliseconds). */
export interface JwksSettings {
  /** Least time between two fetches, whatever the traffic (unknown `kid`s, failures). */
  readonly cooldownMs: number;
  /** A fetch that takes longer is aborted. */
  readonly timeoutMs: number;
  /** How long the last good keys stay usable after the endpoint starts failing. */
  readonly maxStaleMs: number;
  /** Larger bodies are refused (read incrementally). */
  readonly maxBodyBytes: number;
  /** Keys older than this are refreshed in the background while still in use. */
  readonly refreshIntervalMs: number;
}

/** Health of the key set, as {@link JwksStatus.state} reports it. */
export type JwksState = 'empty' | 'fresh' | 'stale' | 'unavailable';

/** A snapshot of the remote key set, for health checks and dashboards. */
export interface JwksStatus {
  /**
   * `empty`: never fetched; `fresh`: the last fetch succeeded; `stale`: fetches fail, the last good
   * keys are still used (for at most `maxStaleMs`); `unavailable`: no usable keys.
   */
  readonly state: JwksState;
  /** The JWKS URL, once known (after discovery). */
  readonly uri: string | undefined;
  /** Number of keys in use. */
  readonly keys: number;
  /** When the last good key set was fetched (clock ms), if ever. */
  readonly fetchedAt: number | undefined;
  /** Since when fetches fail (clock ms), if they do. */
  readonly failingSince: number | undefined;
  /**
   * Why the last fetch failed: `timeout`, `network`, `status` (non-2xx), `too_large`, `not_json`
   * (not JSON, or not a JWKS), `aborted` (the verifier was closed) or `DISCOVERY_FAILED`.
   */
  readonly lastError: string | undefined;
  /** Fetches attempted so far. */
  readonly fetches: number;
}

/** What the key set tells its listeners. */
export type JwksEvent =
  | {
      readonly type: 'refreshed';
      readonly keys: number;
      readonly added: number;
      readonly removed: number;
    }
  | {
      readonly type: 'refresh_failed';
      readonly error: string;
      /** The state after the failure: `stale` (old keys still used) or `unavailable`. */
      readonly state: JwksState;
    };

/** One key of the set. Its identity changes when its material changes (the token cache relies on it). @internal */
export interface KeyRecord {
  readonly kid: string | undefined;
  readonly jwk: JWK;
  readonly fingerprint: string;
  /** Imported keys per algorithm: a CryptoKey once ready, a promise while importing. */
  readonly imported: Map<string, CryptoKey | Promise<CryptoKey>>;
}

const MAX_KEYS = 100;

const CURVES: Record<string, string> = { ES256: 'P-256', ES384: 'P-384', ES512: 'P-521' };

/** True when a JWK of this shape can verify `alg` (RFC 7518 key types, RFC 8037 OKP). */
function fits(jwk: JWK, alg: string): boolean {
  if (jwk.alg !== undefined && jwk.alg !== alg) return false;
  if (alg.startsWith('RS') || alg.startsWith('PS')) return jwk.kty === 'RSA';
  if (alg.startsWith('ES')) return jwk.kty === 'EC' && jwk.crv === CURVES[alg];
  if (alg === 'EdDSA' || alg === 'Ed25519') return jwk.kty === 'OKP' && jwk.crv === 'Ed25519';
  return false;
}

/** The public, verification-relevant members of a JWKS entry, or undefined when it is unusable. */
function publicJwk(value: unknown): JWK | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const v = value as Record<string, unknown>;
  if (typeof v.kty !== 'string' || v.kty === 'oct') return undefined; // never trust a shared secret
  if ('d' in v || 'p' in v || 'priv' in v) return undefined; // a private key published by mistake
  if (v.use !== undefined && v.use !== 'sig') return undefined;
  if (v.key_ops !== undefined && !(Array.isArray(v.key_ops) && v.key_ops.includes('verify'))) {
    return undefined;
  }
  const jwk: JWK = { kty: v.kty };
  for (const name of ['kid', 'alg', 'crv', 'n', 'e', 'x', 'y'] as const) {
    const member = v[name];
    if (member === undefined) continue;
    if (typeof member !== 'string') return undefined;
    jwk[name] = member;
  }
  return Object.freeze(jwk);
}

function parseJwks(body: unknown): JWK[] {
  const keys = (body as { keys?: unknown } | null)?.keys;
  if (typeof body !== 'object' || body === null || !Array.isArray(keys)) {
    throw new FetchJsonError('not_json', 'the JWKS is not an object with a "keys" array');
  }
  return keys.slice(0, MAX_KEYS).flatMap((k) => publicJwk(k) ?? []);
}

/**
 * The issuer's signing keys, fetched from its JWKS URL and kept in memory. At most one fetch runs
 * at a time (callers share it) and at most one starts per `cooldownMs`; failures keep the last good
 * keys for `maxStaleMs`. Never follows `jku`, `x5u` or embedded `jwk` headers: keys come only
 * from the configured (or discovered) URL. @internal
 */
export class RemoteKeySet {
  readonly #resolveUri: (signal: AbortSignal) => Promise<string>;
  readonly #settings: JwksSettings;
  readonly #clock: Clock;
  readonly #telemetry: Instruments<VerifierInstruments>;
  readonly #fetchImpl: FetchLike | undefined;
  readonly #listeners = new ListenerList<JwksEvent>({ error: InvalidOptionsError });
  #uri: string | undefined;
  #byKid = new Map<string, KeyRecord>();
  #all: KeyRecord[] = [];
  #loaded = false;
  #fetchedAt: number | undefined;
  #failingSince: number | undefined;
  #lastAttemptAt = Number.NEGATIVE_INFINITY;
  #lastError: string | undefined;
  #lastCause: unknown;
  #fetches = 0;
  #inflight: Promise<void> | undefined;
  #closed = new AbortController();
  /** Imported key → its record, so a verification learns which record verified it afterwards. */
  readonly #owners = new WeakMap<object, KeyRecord>();

  constructor(
    resolveUri: (signal: AbortSignal) => Promise<string>,
    settings: JwksSettings,
    clock: Clock,
    telemetry: Instruments<VerifierInstruments>,
    fetch?: FetchLike | undefined,
  ) {
    this.#resolveUri = resolveUri;
    this.#settings = settings;
    this.#clock = clock;
    this.#telemetry = telemetry;
    this.#fetchImpl = fetch;
  }

  /** True while `record` is still the live key for its `kid` and the set is usable. */
  isCurrent(record: KeyRecord, now: number): boolean {
    if (!this.#usable(now)) return false;
    this.#maybeRefreshInBackground(now);
    return record.kid === undefined
      ? this.#all.includes(record)
      : this.#byKid.get(record.kid) === record;
  }

  /**
   * The key for `kid` and `alg` when everything is at hand — the set is usable, the key is
   * known and already imported for `alg` — so a verification can skip the asynchronous
   * {@link resolve}; otherwise undefined (call `resolve`, which fetches or imports as needed).
   */
  ready(kid: unknown, alg: string, now: number): CryptoKey | undefined {
    if ((kid !== undefined && typeof kid !== 'string') || !this.#usable(now)) return undefined;
    // A key is only ever imported for an `alg` it fits (see resolve), so with a kid the imported
    // map answers alone and the fit is not checked again on every token.
    const record = kid === undefined ? this.#find(kid, alg) : this.#byKid.get(kid);
    const key = record?.imported.get(alg);
    if (key === undefined || key instanceof Promise) return undefined;
    this.#maybeRefreshInBackground(now);
    return key;
  }

  /** The record a key handed out by {@link ready} or {@link resolve} was imported from. */
  recordOf(key: unknown): KeyRecord | undefined {
    return typeof key === 'object' && key !== null ? this.#owners.get(key) : undefined;
  }

  /**
   * The key that verifies a token with this `kid` and `alg`. An unknown `kid` refetches the set
   * once (subject to the cooldown); a set older than `maxStaleMs` past its first failure throws
   * `JWKS_UNAVAILABLE`.
   */
  async resolve(kid: unknown, alg: string, signal?: AbortSignal): Promise<CryptoKey> {
    if (kid !== undefined && typeof kid !== 'string') {
      throw new InvalidTokenError('malformed', 'the "kid" header must be a string');
    }
    const now = this.#clock.now();
    if (!this.#usable(now)) {
      if (this.#canFetch(now)) await this.#refresh(signal);
      if (!this.#usable(this.#clock.now())) throw this.#unavailable();
    } else {
      this.#maybeRefreshInBackground(now);
    }
    let record = this.#find(kid, alg);
    if (!record && this.#canFetch(this.#clock.now())) {
      await this.#refresh(signal);
      if (!this.#usable(this.#clock.now())) throw this.#unavailable();
      record = this.#find(kid, alg);
    }
    if (!record) {
      throw new InvalidTokenError(
        'unknown_key',
        kid === undefined
          ? `the token has no "kid" and the JWKS has no single key for ${alg}`
          : `no key in the JWKS matches the token's "kid" for ${alg}`,
      );
    }
    let key = record.imported.get(alg);
    if (key === undefined) {
      key = importJWK(record.jwk, alg).then((k) => {
        record.imported.set(alg, k as CryptoKey);
        this.#owners.set(k as CryptoKey, record);
        return k as CryptoKey;
      });
      record.imported.set(alg, key);
      key.catch(() => record.imported.delete(alg));
    }
    try {
      return key instanceof Promise ? await key : key;
    } catch (cause) {
      throw new InvalidTokenError('unknown_key', `the JWKS key cannot be used for ${alg}`, {
        cause,
      });
    }
  }

  /** Loads the keys now (e.g. at start-up, to fail fast); resolves once a fetch finished. */
  async refresh(signal?: AbortSignal): Promise<void> {
    await this.#refresh(signal);
    if (!this.#usable(this.#clock.now())) throw this.#unavailable();
  }

  status(): JwksStatus {
    const now = this.#clock.now();
    let state: JwksState;
    if (!this.#loaded) state = this.#failingSince === undefined ? 'empty' : 'unavailable';
    else if (this.#failingSince === undefined) state = 'fresh';
    else state = this.#usable(now) ? 'stale' : 'unavailable';
    return {
      state,
      uri: this.#uri,
      keys: this.#all.length,
      fetchedAt: this.#fetchedAt,
      failingSince: this.#failingSince,
      lastError: this.#lastError,
      fetches: this.#fetches,
    };
  }

  onEvent(listener: Listener<JwksEvent>): Subscription {
    return this.#listeners.add(listener);
  }

  close(): void {
    this.#closed.abort();
    this.#listeners.clear();
  }

  #find(kid: string | undefined, alg: string): KeyRecord | undefined {
    if (kid !== undefined) {
      const record = this.#byKid.get(kid);
      return record && fits(record.jwk, alg) ? record : undefined;
    }
    const candidates = this.#all.filter((r) => fits(r.jwk, alg));
    return candidates.length === 1 ? candidates[0] : undefined;
  }

  #usable(now: number): boolean {
    return (
      this.#loaded &&
      (this.#failingSince === undefined || now - this.#failingSince <= this.#settings.maxStaleMs)
    );
  }

  #canFetch(now: number): boolean {
    return (
      !this.#closed.signal.aborted &&
      (this.#inflight !== undefined || now - this.#lastAttemptAt >= this.#settings.cooldownMs)
    );
  }

  #maybeRefreshInBackground(now: number): void {
    if (this.#inflight !== undefined || this.#fetchedAt === undefined) return;
    const due =
      now - this.#fetchedAt >= this.#settings.refreshIntervalMs || this.#failingSince !== undefined;
    if (due && this.#canFetch(now)) this.#refresh().catch(() => {});
  }

  #unavailable(): AuthError {
    if (!this.#loaded && isAuthError(this.#lastCause, 'DISCOVERY_FAILED')) return this.#lastCause;
    const since = this.#failingSince;
    return new JwksUnavailableError(
      this.#loaded
        ? `the JWKS endpoint has failed since ${since} (${this.#lastError}) for longer than jwks.maxStaleMs; check that the issuer is reachable`
        : `no signing keys could be fetched (${this.#lastError ?? 'not tried yet'}); check that the issuer's JWKS endpoint is reachable`,
    );
  }

  /** Single-flight fetch: concurrent callers share the one in flight. */
  #refresh(signal?: AbortSignal): Promise<void> {
    if (!this.#inflight) {
      this.#lastAttemptAt = this.#clock.now();
      this.#fetches++;
      this.#inflight = this.#fetch().finally(() => {
        this.#inflight = undefined;
      });
    }
    const shared = this.#inflight;
    if (!signal) return shared;
    // A caller that gives up stops waiting; the shared fetch goes on for the others.
    return new Promise<void>((resolve, reject) => {
      const onAbort = () => reject(signal.reason);
      if (signal.aborted) return onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
      shared.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
    });
  }

  async #fetch(): Promise<void> {
    let keys: JWK[];
    try {
      this.#uri ??= await this.#resolveUri(this.#closed.signal);
      const body = await fetchJson(this.#uri, {
        timeoutMs: this.#settings.timeoutMs,
        maxBodyBytes: this.#settings.maxBodyBytes,
        clock: this.#clock,
        signal: this.#closed.signal,
        fetch: this.#fetchImpl,
      });
      keys = parseJwks(body);
    } catch (error) {
      this.#failed(error);
      return;
    }
    this.#replace(keys);
  }

  #failed(error: unknown): void {
    const kind =
      error instanceof FetchJsonError ? error.kind : ((error as { code?: string }).code ?? 'error');
    this.#lastError = kind;
    this.#lastCause = error;
    this.#failingSince ??= this.#clock.now();
    this.#telemetry()?.jwksFetches.add(1, { [ATTR.outcome]: 'failure', [ATTR.reason]: kind });
    this.#emit({ type: 'refresh_failed', error: kind, state: this.status().state });
  }

  #replace(jwks: JWK[]): void {
    const previous = this.#byKid;
    const previousAll = this.#all;
    const byKid = new Map<string, KeyRecord>();
    const all: KeyRecord[] = [];
    for (const jwk of jwks) {
      const fingerprint = JSON.stringify([jwk.kty, jwk.crv, jwk.n, jwk.e, jwk.x, jwk.y, jwk.alg]);
      const old =
        jwk.kid === undefined
          ? previousAll.find((r) => r.kid === undefined && r.fingerprint === fingerprint)
          : previous.get(jwk.kid);
      const record: KeyRecord =
        old && old.fingerprint === fingerprint
          ? old
          : { kid: jwk.kid, jwk, fingerprint, imported: new Map() };
      if (record.kid !== undefined) {
        if (byKid.has(record.kid)) continue; // duplicate kid: the first one wins
        byKid.set(record.kid, record);
      }
      all.push(record);
    }
    const added = all.filter((r) => !previousAll.includes(r)).length;
    const removed = previousAll.filter((r) => !all.includes(r)).length;
    this.#byKid = byKid;
    this.#all = all;
    this.#loaded = true;
    this.#fetchedAt = this.#clock.now();
    this.#failingSince = undefined;
    this.#lastError = undefined;
    this.#lastCause = undefined;
    this.#telemetry()?.jwksFetches.add(1, { [ATTR.outcome]: 'success' });
    this.#emit({ type: 'refreshed', keys: all.length, added, removed });
  }

  /** A throwing listener stops neither the others nor verification; the kernel rethrows its error on a microtask. */
  #emit(event: JwksEvent): void {
    this.#listeners.emit(event);
  }
}
