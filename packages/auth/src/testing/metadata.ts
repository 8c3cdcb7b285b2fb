import { ASYMMETRIC_ALGORITHMS } from '../verifier-options.ts';
import type { Addresses } from './server.ts';
import type { TestIssuerAlgorithm, TestIssuerMetadata } from './types.ts';

/** The issuer's metadata document (OIDC discovery and RFC 8414 alike). @internal */
export function issuerMetadata(
  at: Addresses,
  algorithms: readonly TestIssuerAlgorithm[],
  scopes: string[],
): TestIssuerMetadata {
  return {
    issuer: at.issuerUrl,
    jwks_uri: at.jwksUri,
    token_endpoint: at.tokenEndpoint,
    grant_types_supported: ['client_credentials'],
    token_endpoint_auth_methods_supported: [
      'client_secret_basic',
      'client_secret_post',
      'private_key_jwt',
    ],
    token_endpoint_auth_signing_alg_values_supported: [...ASYMMETRIC_ALGORITHMS],
    id_token_signing_alg_values_supported: [...algorithms],
    response_types_supported: [],
    subject_types_supported: ['public'],
    scopes_supported: scopes,
  };
}
