import { createPublicKey } from 'node:crypto';
import { createVerifier as createBallastVerifier } from '@ballast/auth';
import { createVerifier as createFastJwtVerifier } from 'fast-jwt';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import jsonwebtoken from 'jsonwebtoken';
import { AUDIENCE, type Fixture, ISSUER, serveJwks, type VerifyFn } from './support.ts';

// The verifiers the bench compares, each set up as its users would. Ballast and jose fetch keys
// from a JWKS served on 127.0.0.1; fast-jwt and jsonwebtoken get the public key directly (their
// best case).

/** Every verifier of the verify groups. */
export const VERIFIERS = ['ballast', 'jose', 'fast-jwt-cache', 'fast-jwt', 'jsonwebtoken'] as const;
export type VerifierName = (typeof VERIFIERS)[number];

/** Runs `run` with `name`'s verify function for the keys of `f`; the JWKS lives as long as `run`. */
export async function withVerifier<T>(
  name: VerifierName,
  f: Fixture,
  run: (verify: VerifyFn) => Promise<T>,
): Promise<T> {
  const jwks = await serveJwks([f.publicJwk]);
  try {
    const algorithms = [f.alg];
    let verify: VerifyFn;
    switch (name) {
      case 'ballast': {
        const v = createBallastVerifier({
          issuer: ISSUER,
          audience: AUDIENCE,
          jwksUri: jwks.url,
          algorithms,
        });
        verify = (t) => v.verify(t);
        break;
      }
      case 'jose': {
        const keys = createRemoteJWKSet(new URL(jwks.url));
        verify = (t) => jwtVerify(t, keys, { issuer: ISSUER, audience: AUDIENCE, algorithms });
        break;
      }
      case 'fast-jwt-cache':
      case 'fast-jwt': {
        verify = createFastJwtVerifier({
          key: f.publicPem,
          algorithms: algorithms as never,
          allowedIss: ISSUER,
          allowedAud: AUDIENCE,
          cache: name === 'fast-jwt-cache',
        });
        break;
      }
      case 'jsonwebtoken': {
        const key = createPublicKey(f.publicPem);
        verify = (t) =>
          jsonwebtoken.verify(t, key, {
            algorithms: algorithms as never,
            issuer: ISSUER,
            audience: AUDIENCE,
          });
        break;
      }
    }
    await verify(f.token); // a failing setup throws here, not as a silent zero
    return await run(verify);
  } finally {
    await jwks.close();
  }
}
