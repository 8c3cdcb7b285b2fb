import { z } from 'zod';
import type { Clock } from './clock.ts';
import { isTrustedUrl } from './discovery.ts';

/** Asymmetric JWS algorithms the verifier accepts in `algorithms` (RFC 7518, RFC 8037). */
export const ASYMMETRIC_ALGORITHMS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
  'Ed25519',
] as const;

/** HMAC algorithms; accepted only together with a `secret` (never with a JWKS). */
export const HMAC_ALGORITHMS = ['HS256', 'HS384', 'HS512'] as const;

const ms = (max = 2_147_483_647) => z.number().int().min(0).max(max);

const jwksSchema = z
  .object({
    cooldownMs: ms().default(30_000),
    timeoutMs: ms().min(1).default(5_000),
    maxStaleMs: ms().default(3_600_000),
    maxBodyBytes: z
      .number()
      .int()
      .min(256)
      .max(16 * 1024 * 1024)
      .default(256 * 1024),
    refreshIntervalMs: ms().min(1_000).default(600_000),
  })
  .strict();

/** @internal */
export const verifierOptionsSchema = z
  .object({
    issuer: z.string().min(1),
    audience: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]),
    jwksUri: z.string().optional(),
    discovery: z.boolean().default(false),
    algorithms: z.array(z.enum([...ASYMMETRIC_ALGORITHMS, ...HMAC_ALGORITHMS])).min(1),
    secret: z
      .union([z.string().min(32, 'must be at least 32 characters'), z.instanceof(Uint8Array)])
      .optional(),
    clockToleranceMs: ms(300_000).default(5_000),
    maxTokenAgeMs: ms().min(1).optional(),
    requiredClaims: z.array(z.string().min(1)).default([]),
    requireExp: z.boolean().default(true),
    typ: z.string().min(1).optional(),
    maxTokenBytes: z
      .number()
      .int()
      .min(128)
      .max(1024 * 1024)
      .default(8192),
    allowInsecureHttp: z.boolean().default(false),
    jwks: jwksSchema.default(() => jwksSchema.parse({})),
    cache: z
      .object({
        maxEntries: z.number().int().min(0).max(10_000_000).default(10_000),
        admitFirstUse: z.boolean().default(false),
      })
      .strict()
      .default({ maxEntries: 10_000, admitFirstUse: false }),
    clock: z
      .custom<Clock>((v) => typeof (v as Clock | undefined)?.now === 'function', {
        message: 'must be an object with a now() method',
      })
      .optional(),
  })
  .strict()
  .superRefine((o, ctx) => {
    const hmac = o.algorithms.filter((a) => (HMAC_ALGORITHMS as readonly string[]).includes(a));
    const asymmetric = o.algorithms.length - hmac.length;
    if (hmac.length > 0 && o.secret === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['algorithms'],
        message: `${hmac.join(', ')} need a "secret"; for tokens from an issuer use an asymmetric algorithm such as RS256 (RFC 8725 §3.1)`,
      });
    }
    if (o.secret !== undefined && hmac.length === 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['secret'],
        message: 'is only used with HS256/384/512 in "algorithms"',
      });
    }
    if (asymmetric > 0 && o.jwksUri === undefined && !o.discovery) {
      ctx.addIssue({
        code: 'custom',
        path: ['jwksUri'],
        message: 'is required (or set discovery: true) for asymmetric algorithms',
      });
    }
    if (o.jwksUri !== undefined && o.discovery) {
      ctx.addIssue({
        code: 'custom',
        path: ['discovery'],
        message: 'cannot be combined with "jwksUri"; pick one',
      });
    }
    if (o.jwksUri !== undefined && !isTrustedUrl(o.jwksUri, o.allowInsecureHttp)) {
      ctx.addIssue({
        code: 'custom',
        path: ['jwksUri'],
        message: 'must be an https URL (http only to loopback, or with allowInsecureHttp: true)',
      });
    }
    if (o.discovery && !isTrustedUrl(o.issuer, o.allowInsecureHttp)) {
      ctx.addIssue({
        code: 'custom',
        path: ['issuer'],
        message:
          'must be an https URL to use discovery (http only to loopback, or with allowInsecureHttp: true)',
      });
    }
  });

/** Options of {@link createVerifier}; see the README's options table for every default. */
export type VerifierOptions = z.input<typeof verifierOptionsSchema>;

/** @internal */
export type ResolvedVerifierOptions = z.output<typeof verifierOptionsSchema>;

/** An algorithm name accepted in `algorithms`. */
export type VerifierAlgorithm = ResolvedVerifierOptions['algorithms'][number];
