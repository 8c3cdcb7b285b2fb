import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  type BenchCase,
  countInstructions,
  defineBench,
  requestsPerSecond,
  startServerProcess,
} from '@ballast/bench';
import {
  ALGS,
  type Alg,
  AUDIENCE,
  distinctOpsPerSecond,
  fixture,
  ISSUER,
  repeatedOpsPerSecond,
  serveJwks,
} from './support.ts';
import { VERIFIERS, withVerifier } from './verifiers.ts';

// Verify throughput of the same token repeated (caches can help) and of distinct tokens (each
// verified once), for RS256, ES256 and EdDSA; then Express req/s with a valid token. Every
// verifier checks signature, alg allow-list, iss, aud and exp (see verifiers.ts). jsonwebtoken 9
// has no EdDSA, so it is absent from the EdDSA groups. The instructions groups count what one
// distinct-token verification executes, which the machine's load cannot move.

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

const countScript = fileURLToPath(new URL('./count-verify.ts', import.meta.url));
const COUNTED = 2_000;

function instructionCases(): BenchCase[] {
  return ALGS.flatMap((alg) =>
    (['ballast', 'jose'] as const).map((name) => ({
      group: `instructions-${alg}`,
      name,
      unit: 'instructions/verify',
      lowerIsBetter: true,
      reference: name === 'jose',
      rounds: 1, // a count is steadier than a time (within ~2 %), and takes minutes
      run: async () => {
        const f = await fixture(alg);
        const dir = mkdtempSync(join(tmpdir(), 'ballast-auth-count-'));
        try {
          // The counted process reads its tokens from a file of its own: signing new ones under
          // valgrind would take hours.
          const file = join(dir, 'fixture.json');
          writeFileSync(file, JSON.stringify({ ...f, distinct: f.distinct.slice(0, COUNTED) }));
          const [without, withCounted] = await Promise.all([
            countInstructions(countScript, [name, file, '0']),
            countInstructions(countScript, [name, file, String(COUNTED)]),
          ]);
          return (withCounted - without) / COUNTED;
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      },
    })),
  );
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

export default defineBench([...verifyCases(), ...expressCases(), ...instructionCases()]);
