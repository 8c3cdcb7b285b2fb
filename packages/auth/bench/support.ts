import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportJWK, exportSPKI, generateKeyPair, type JWK, SignJWT } from 'jose';

/** The algorithms the verify bench compares. */
export const ALGS = ['RS256', 'ES256', 'EdDSA'] as const;
export type Alg = (typeof ALGS)[number];

export const ISSUER = 'https://issuer.bench.test/';
export const AUDIENCE = 'https://api.bench.test';

/** Keys and pre-signed tokens of one algorithm, shared by every bench process through a file. */
export interface Fixture {
  readonly alg: Alg;
  readonly kid: string;
  readonly publicJwk: JWK;
  readonly publicPem: string;
  /** One token for the `repeated-*` groups. */
  readonly token: string;
  /** Tokens for warm-up, never measured. */
  readonly warm: string[];
  /** Distinct tokens, each verified exactly once in the `distinct-*` groups. */
  readonly distinct: string[];
  readonly createdAt: number;
}

// Sized so that a distinct pass lasts about a second on a 2-core machine, after a warm-up long
// enough for the JIT: shorter passes (4,000 RS256 tokens took 0.2 s) swung ±25 % between rounds.
const COUNTS: Record<Alg, { warm: number; distinct: number }> = {
  RS256: { warm: 3_000, distinct: 20_000 },
  ES256: { warm: 3_000, distinct: 15_000 },
  EdDSA: { warm: 3_000, distinct: 15_000 },
};

/**
 * Loads (or creates once, then reuses for 30 minutes) the fixture of `alg`: signing thousands of
 * RSA tokens takes seconds, and every case runs in a fresh process.
 */
export async function fixture(alg: Alg): Promise<Fixture> {
  const file = join(tmpdir(), `ballast-auth-bench-${alg}-v2.json`);
  if (existsSync(file)) {
    const stored = JSON.parse(readFileSync(file, 'utf8')) as Fixture;
    if (Date.now() - stored.createdAt < 30 * 60_000) return stored;
  }
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
  const kid = `bench-${alg}`;
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
  const now = Math.floor(Date.now() / 1000);
  const sign = (jti: string) =>
    new SignJWT({ sub: 'user-42', scope: 'orders:read orders:write', jti })
      .setProtectedHeader({ alg, kid, typ: 'at+jwt' })
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setIssuedAt(now)
      .setExpirationTime(now + 2 * 3600)
      .sign(privateKey);
  const many = async (prefix: string, n: number) => {
    const out: string[] = [];
    for (let i = 0; i < n; i += 200) {
      const size = Math.min(200, n - i);
      out.push(
        ...(await Promise.all(Array.from({ length: size }, (_, j) => sign(`${prefix}-${i + j}`)))),
      );
    }
    return out;
  };
  const created: Fixture = {
    alg,
    kid,
    publicJwk,
    publicPem: await exportSPKI(publicKey),
    token: await sign('repeated'),
    warm: await many('warm', COUNTS[alg].warm),
    distinct: await many('distinct', COUNTS[alg].distinct),
    createdAt: Date.now(),
  };
  writeFileSync(file, JSON.stringify(created));
  return created;
}

/** Serves `{ keys }` as a JWKS on 127.0.0.1 (in the calling process). */
export async function serveJwks(keys: JWK[]): Promise<{ url: string; close(): Promise<void> }> {
  const body = JSON.stringify({ keys });
  const server: Server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/jwks`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Verifies one token; sync or async. */
export type VerifyFn = (token: string) => unknown;

const IN_FLIGHT = 16;

/**
 * Verifications per second of `verify` on `token` repeated: warms up, then counts calls for
 * `durationMs`. Async verifiers keep {@link IN_FLIGHT} calls in flight, as a server would.
 */
export async function repeatedOpsPerSecond(
  verify: VerifyFn,
  token: string,
  durationMs = 1_500,
): Promise<number> {
  const isAsync = verify(token) instanceof Promise;
  const until = async (deadline: number): Promise<number> => {
    let count = 0;
    if (!isAsync) {
      while (performance.now() < deadline) {
        for (let i = 0; i < 1_000; i++) verify(token);
        count += 1_000;
      }
      return count;
    }
    await Promise.all(
      Array.from({ length: IN_FLIGHT }, async () => {
        while (performance.now() < deadline) {
          for (let i = 0; i < 100; i++) await verify(token);
          count += 100;
        }
      }),
    );
    return count;
  };
  await until(performance.now() + 500);
  const start = performance.now();
  const count = await until(start + durationMs);
  return (count / (performance.now() - start)) * 1000;
}

/**
 * Verifies every token of `list` once: async verifiers with {@link IN_FLIGHT} calls in flight,
 * synchronous ones back to back.
 */
export async function verifyAll(verify: VerifyFn, list: readonly string[]): Promise<void> {
  if (list.length === 0) return;
  const first = verify(list[0]!);
  if (!(first instanceof Promise)) {
    for (let i = 1; i < list.length; i++) verify(list[i]!);
    return;
  }
  await first;
  let next = 1;
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (next < list.length) await verify(list[next++]!);
    }),
  );
}

/**
 * Verifications per second over `tokens`, each verified once (so no cache can help), after
 * verifying `warm` (other tokens) to warm up.
 */
export async function distinctOpsPerSecond(
  verify: VerifyFn,
  warm: readonly string[],
  tokens: readonly string[],
): Promise<number> {
  await verifyAll(verify, warm);
  const start = performance.now();
  await verifyAll(verify, tokens);
  return (tokens.length / (performance.now() - start)) * 1000;
}
