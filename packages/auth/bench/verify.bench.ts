import { createPublicKey } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { createVerifier as createBallastVerifier } from '@ballast/auth';
import { type BenchCase, defineBench, requestsPerSecond, startServerProcess } from '@ballast/bench';
import { createVerifier as createFastJwtVerifier } from 'fast-jwt';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import jsonwebtoken from 'jsonwebtoken';
import {
  ALGS,
  type Alg,
  AUDIENCE,
  distinctOpsPerSecond,
  type Fixture,
  fixture,
  ISSUER,
  repeatedOpsPerSecond,
  serveJwks,
  type VerifyFn,
} from './support.ts';

// Verify throughput of the same token repeated (caches can help) and of distinct tokens (each
// verified once), for RS256, ES256 and EdDSA; then Express req/s with a valid token. Every
// verifier checks signature, alg allow-list, iss, aud and exp. Ballast and jose fetch keys from
// a JWKS served on 127.0.0.1; fast-jwt and jsonwebtoken get the public key directly (their
// best case). jsonwebtoken 9 has no EdDSA, so it is absent from the EdDSA groups.

const VERIFIERS = ['ballast', 'jose', 'fast-jwt-cache', 'fast-jwt', 'jsonwebtoken'] as const;
type VerifierName = (typeof VERIFIERS)[number];

async function withVerifier<T>(
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

function verifyCases(): BenchCase[] {
  const cases: BenchCase[] = [];
  for (const mode of ['repeated', 'distinct'] as const) {
    for (const alg of ALGS) {
      for (const name of VERIFIERS) {
        if (name === 'jsonwebtoken' && alg === 'EdDSA') continue;
        cases.push({
          group: `${mode}-${alg}`,
          name,
          unit: 'ops/s',
          lowerIsBetter: false,
          // The peer each target is stated against: fast-jwt's cache (repeated), jose (distinct).
          reference: name === (mode === 'repeated' ? 'fast-jwt-cache' : 'jose'),
          run: async () => {
            const f = await fixture(alg as Alg);
            return withVerifier(name, f, (verify) =>
              mode === 'repeated'
                ? repeatedOpsPerSecond(verify, f.token)
                : distinctOpsPerSecond(verify, f.warm, f.distinct),
            );
          },
        });
      }
    }
  }
  return cases;
}

const serverFile = fileURLToPath(new URL('./express-server.ts', import.meta.url));

function expressCases(): BenchCase[] {
  return (['bare', 'ballast', 'express-oauth2-jwt-bearer'] as const).map((variant) => ({
    group: 'express',
    name: variant,
    unit: 'req/s',
    lowerIsBetter: false,
    run: async () => {
      const f = await fixture('RS256');
      const jwks = await serveJwks([f.publicJwk]);
      const server = await startServerProcess(serverFile, [variant], {
        JWKS_URL: jwks.url,
        ISSUER,
        AUDIENCE,
      });
      try {
        const headers = { authorization: `Bearer ${f.token}` };
        const probe = await fetch(`${server.url}/orders`, { headers });
        if (probe.status !== 200) throw new Error(`${variant} answered ${probe.status}`);
        return await requestsPerSecond({ url: `${server.url}/orders`, headers, durationMs: 3_000 });
      } finally {
        await server.stop();
        await jwks.close();
      }
    },
  }));
}

export default defineBench([...verifyCases(), ...expressCases()]);
