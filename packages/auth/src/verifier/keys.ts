import type { Clock } from '@ballast/kernel';
import type { JWTHeaderParameters } from 'jose';
import { discoverJwksUri } from '../discovery.ts';
import { RemoteKeySet } from '../jwks.ts';
import type { Instruments, VerifierInstruments } from '../telemetry.ts';
import { HMAC_ALGORITHMS, type ResolvedVerifierOptions } from '../verifier-options.ts';

const HMAC: ReadonlySet<string> = new Set(HMAC_ALGORITHMS);

/** Where a verifier's keys come from: the issuer's JWKS and, for HMAC, the shared secret. @internal */
export interface VerifierKeys {
  /** The issuer's key set, fetched from `jwksUri` or the discovered one. */
  readonly keySet: RemoteKeySet;
  /**
   * The key for a token's header: the shared secret for HMAC, else the JWKS key — without an
   * async hop when it is loaded and imported (the usual case).
   */
  keyFor(
    header: JWTHeaderParameters,
    signal?: AbortSignal,
  ): Uint8Array | CryptoKey | Promise<CryptoKey>;
}

/** Builds the key sources a verifier's options name. @internal */
export function verifierKeys(
  o: ResolvedVerifierOptions,
  clock: Clock,
  telemetry: Instruments<VerifierInstruments>,
): VerifierKeys {
  const { jwksUri } = o;
  const keySet = new RemoteKeySet(
    jwksUri !== undefined
      ? async () => jwksUri
      : (signal: AbortSignal) =>
          discoverJwksUri(o.issuer, {
            timeoutMs: o.jwks.timeoutMs,
            maxBodyBytes: o.jwks.maxBodyBytes,
            clock,
            allowInsecureHttp: o.allowInsecureHttp,
            signal,
            fetch: o.fetch,
          }),
    o.jwks,
    clock,
    telemetry,
    o.fetch,
  );
  const secret =
    typeof o.secret === 'string' ? new TextEncoder().encode(o.secret) : (o.secret ?? undefined);
  return {
    keySet,
    keyFor(header, signal) {
      if (secret && HMAC.has(header.alg)) return secret;
      return (
        keySet.ready(header.kid, header.alg, clock.now()) ??
        keySet.resolve(header.kid, header.alg, signal)
      );
    },
  };
}
