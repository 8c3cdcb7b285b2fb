import type { Clock } from '@ballast/kernel';
import { createVerifier, type Verifier, type VerifierOptions } from '../src/index.ts';
import type { TestIssuer } from '../src/testing/index.ts';

/** A verifier for `issuer`'s tokens, every asymmetric algorithm it signs with, on `clock`. */
export function issuerVerifier(
  issuer: TestIssuer,
  clock: Clock,
  extra: Partial<VerifierOptions> = {},
): Verifier {
  return createVerifier({
    issuer: issuer.url,
    audience: issuer.audience,
    jwksUri: issuer.jwksUri,
    algorithms: ['RS256', 'ES256', 'EdDSA'],
    clock,
    ...extra,
  });
}
