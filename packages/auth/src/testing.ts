// `@ballast/auth/testing`: an OAuth 2.0 issuer for tests of services that use @ballast/auth.

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
} from './test-issuer.ts';
export { createTestIssuer } from './test-issuer.ts';
