// `@ballast/auth/testing`: an OAuth 2.0 issuer for tests of services that use @ballast/auth.

export { createTestIssuer } from './issuer.ts';
export type {
  TestIssuer,
  TestIssuerAlgorithm,
  TestIssuerClient,
  TestIssuerEndpoint,
  TestIssuerFault,
  TestIssuerKey,
  TestIssuerMetadata,
  TestIssuerOptions,
  TestIssuerSignOptions,
  TestIssuerTokenRequest,
} from './types.ts';
