import { o } from '@ballast/kernel';
import type { CryptoKey, JWK, KeyObject } from 'jose';
import { optionError } from '../parse-options.ts';
import type { TestIssuerAlgorithm } from './types.ts';

export const ALGORITHMS = ['RS256', 'ES256', 'EdDSA'] as const;
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;

const nonEmpty = () => o.string({ minLength: 1 });
const positiveInt = () => o.number({ integer: true, gt: 0 });

export const clientSchema = o
  .object({
    clientId: nonEmpty(),
    clientSecret: nonEmpty().optional(),
    publicKey: o
      .custom<CryptoKey | KeyObject | JWK>(
        (v) => typeof v === 'object' && v !== null,
        'a CryptoKey, KeyObject or public JWK',
      )
      .optional(),
    scopes: o
      .array(
        o.string({ pattern: { regex: SCOPE_TOKEN, expected: 'one scope token without spaces' } }),
      )
      .optional(),
    audiences: o.array(nonEmpty()).optional(),
    claims: o.record(o.unknown()).optional(),
    tokenTtlMs: positiveInt().optional(),
  })
  .refine(
    (c) => c.clientSecret !== undefined || c.publicKey !== undefined,
    'needs a clientSecret or a publicKey',
  );

export const faultSchema = o.union(
  o.oneOf(['down', 'reset', 'hang', 'slow', 'garbage', 'huge']),
  o.object({
    status: o.number({ integer: true, min: 100, max: 599 }),
    body: o.union(o.string(), o.record(o.unknown())).optional(),
    headers: o.record(o.string()).optional(),
  }),
  o.object({ delayMs: o.number({ integer: true, min: 0 }) }),
);

const privateJwkSchema = o.object(
  {
    kty: o.string(),
    d: o.string(),
    alg: o.oneOf(ALGORITHMS),
    kid: nonEmpty().optional(),
  },
  { passthrough: true },
);

export const optionsSchema = o.object({
  algorithms: o.array(o.oneOf(ALGORITHMS), { minLength: 1 }).optional(),
  defaultAlgorithm: o.oneOf(ALGORITHMS).optional(),
  audience: nonEmpty().default('https://api.test'),
  tokenTtlMs: positiveInt().default(3_600_000),
  clients: o.array(clientSchema).default([]),
  clock: o
    .custom<{ now(): number }>(
      (v) => typeof (v as { now?: unknown } | null)?.now === 'function',
      'an object with now()',
    )
    .optional(),
  host: nonEmpty().default('127.0.0.1'),
  port: o.number({ integer: true, min: 0, max: 65_535 }).default(0),
  path: o
    .string({
      pattern: {
        regex: /^(\/[A-Za-z0-9._~!$&'()*+,;=:@%-]+)*$/,
        expected: '"" or a path like "/realms/test"',
      },
    })
    .default(''),
  publicUrl: o
    .custom<string>((v) => {
      try {
        return typeof v === 'string' && /^https?:$/.test(new URL(v).protocol);
      } catch {
        return false;
      }
    }, 'an http(s) URL')
    .optional(),
  keys: o.array(privateJwkSchema).default([]),
});

/**
 * The algorithms a test issuer signs with (those asked for, plus those of imported keys) and its
 * default one, which must be among them. @internal
 */
export function issuerAlgorithms(opts: {
  readonly algorithms?: readonly TestIssuerAlgorithm[] | undefined;
  readonly defaultAlgorithm?: TestIssuerAlgorithm | undefined;
  readonly keys: readonly { readonly alg: TestIssuerAlgorithm }[];
}): { algorithms: TestIssuerAlgorithm[]; defaultAlgorithm: TestIssuerAlgorithm } {
  const algorithms = [
    ...new Set([...(opts.algorithms ?? ALGORITHMS), ...opts.keys.map((k) => k.alg)]),
  ];
  const defaultAlgorithm = opts.defaultAlgorithm ?? algorithms[0]!;
  if (!algorithms.includes(defaultAlgorithm)) {
    throw optionError(
      'createTestIssuer()',
      'defaultAlgorithm',
      defaultAlgorithm,
      `must be one of "algorithms" (${algorithms.join(', ')})`,
    );
  }
  return { algorithms, defaultAlgorithm };
}
