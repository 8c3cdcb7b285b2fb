import type { Clock } from './clock.ts';
import { DiscoveryError } from './errors.ts';
import { fetchJson } from './fetch-json.ts';

/** Limits of one discovery run. @internal */
export interface DiscoveryLimits {
  readonly timeoutMs: number;
  readonly maxBodyBytes: number;
  readonly clock: Clock;
  readonly allowInsecureHttp: boolean;
  readonly signal?: AbortSignal | undefined;
}

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);

/**
 * True when `url` may carry keys or metadata: `https:`, or `http:` to a loopback host (tests, local
 * development), or any `http:` when explicitly allowed. @internal
 */
export function isTrustedUrl(url: string, allowInsecureHttp: boolean): boolean {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return false;
  }
  if (parsed.protocol === 'https:') return true;
  return parsed.protocol === 'http:' && (allowInsecureHttp || LOOPBACK.has(parsed.hostname));
}

/** The metadata URLs to try for `issuer`: OIDC discovery first, then RFC 8414. @internal */
export function metadataUrls(issuer: string): string[] {
  const url = new URL(issuer);
  const path = url.pathname.replace(/\/$/, '');
  return [
    `${url.origin}${path}/.well-known/openid-configuration`,
    `${url.origin}/.well-known/oauth-authorization-server${path}`,
  ];
}

/**
 * Finds the issuer's `jwks_uri` from its OpenID Connect discovery document, or from its RFC 8414
 * authorization-server metadata. The document's `issuer` must equal `issuer` exactly (OIDC
 * Discovery §4.3), or the keys of another issuer could be trusted. @internal
 */
export async function discoverJwksUri(issuer: string, limits: DiscoveryLimits): Promise<string> {
  const failures: string[] = [];
  for (const url of metadataUrls(issuer)) {
    let metadata: unknown;
    try {
      metadata = await fetchJson(url, limits);
    } catch (error) {
      if (limits.signal?.aborted) throw error;
      failures.push((error as Error).message);
      continue;
    }
    const { issuer: claimed, jwks_uri: jwksUri } = (metadata ?? {}) as Record<string, unknown>;
    if (claimed !== issuer) {
      throw new DiscoveryError(
        `the metadata at ${url} names issuer ${JSON.stringify(claimed)}, not ${JSON.stringify(issuer)}; set "issuer" to the exact issuer identifier`,
      );
    }
    if (typeof jwksUri !== 'string' || !isTrustedUrl(jwksUri, limits.allowInsecureHttp)) {
      throw new DiscoveryError(
        `the metadata at ${url} has no usable "jwks_uri" (an https URL is required); set "jwksUri" explicitly`,
      );
    }
    return jwksUri;
  }
  throw new DiscoveryError(
    `could not fetch the metadata of issuer ${issuer} (${failures.join('; ')}); check the issuer URL or set "jwksUri"`,
  );
}
