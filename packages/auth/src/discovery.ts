import type { Clock } from '@ballast/kernel';
import { DiscoveryError } from './errors.ts';
import { FetchJsonError, fetchJson } from './fetch-json.ts';
import type { FetchLike } from './http-exchange.ts';

/** Limits of one discovery run. @internal */
export interface DiscoveryLimits {
  readonly timeoutMs: number;
  readonly maxBodyBytes: number;
  readonly clock: Clock;
  readonly allowInsecureHttp: boolean;
  readonly signal?: AbortSignal | undefined;
  /** The fetch to use; the global one when absent. */
  readonly fetch?: FetchLike | undefined;
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
 * The one discovery loop of the package: reads the issuer's OpenID Connect discovery document, or
 * else its RFC 8414 authorization-server metadata, and returns the first one that answers, with
 * the URL it came from. Its `issuer` must equal `issuer` exactly (OIDC Discovery §4.3), or the
 * keys or token endpoint of another issuer could be trusted. @internal
 */
export async function readIssuerMetadata(
  issuer: string,
  limits: DiscoveryLimits,
): Promise<{ readonly url: string; readonly metadata: Record<string, unknown> }> {
  const failures: string[] = [];
  let lastFailure: unknown;
  for (const url of metadataUrls(issuer)) {
    let metadata: unknown;
    try {
      metadata = await fetchJson(url, limits);
    } catch (error) {
      if (limits.signal?.aborted) throw error;
      failures.push((error as Error).message);
      lastFailure = error;
      continue;
    }
    if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata)) {
      failures.push(`GET ${url} did not return a JSON object`);
      lastFailure = new FetchJsonError('not_json', `GET ${url} did not return a JSON object`);
      continue;
    }
    const claimed = (metadata as Record<string, unknown>).issuer;
    if (claimed !== issuer) {
      throw new DiscoveryError(
        `the metadata at ${url} names issuer ${JSON.stringify(claimed)}, not ${JSON.stringify(issuer)}; set "issuer" to the exact issuer identifier`,
      );
    }
    return { url, metadata: metadata as Record<string, unknown> };
  }
  throw new DiscoveryError(
    `could not fetch the metadata of issuer ${issuer} (${failures.join('; ')}); check the issuer URL`,
    { cause: lastFailure },
  );
}

/** True when discovery failed because no metadata could be fetched (worth trying again). @internal */
export function isUnreachableIssuer(error: unknown): boolean {
  return error instanceof DiscoveryError && error.cause instanceof FetchJsonError;
}

/** The issuer's `jwks_uri`, from its metadata (see {@link readIssuerMetadata}). @internal */
export async function discoverJwksUri(issuer: string, limits: DiscoveryLimits): Promise<string> {
  return trustedMember(await readIssuerMetadata(issuer, limits), 'jwks_uri', 'jwksUri', limits);
}

/** The issuer's `token_endpoint`, from its metadata (see {@link readIssuerMetadata}). @internal */
export async function discoverTokenEndpoint(
  issuer: string,
  limits: DiscoveryLimits,
): Promise<string> {
  return trustedMember(
    await readIssuerMetadata(issuer, limits),
    'token_endpoint',
    'tokenEndpoint',
    limits,
  );
}

function trustedMember(
  found: { readonly url: string; readonly metadata: Record<string, unknown> },
  member: string,
  option: string,
  limits: DiscoveryLimits,
): string {
  const value = found.metadata[member];
  if (typeof value !== 'string' || !isTrustedUrl(value, limits.allowInsecureHttp)) {
    throw new DiscoveryError(
      `the metadata at ${found.url} has no usable "${member}" (an https URL is required); set "${option}" explicitly`,
    );
  }
  return value;
}
