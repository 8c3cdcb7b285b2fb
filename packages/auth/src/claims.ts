import type { JWTHeaderParameters, JWTPayload } from 'jose';
import { InvalidTokenError } from './errors.ts';
import type { ResolvedVerifierOptions } from './verifier-options.ts';

/**
 * What a token's claims must satisfy once jose has checked its signature (RFC 7519 §4.1, RFC 8725
 * §3.8–3.9, RFC 9068 §4). Built once per verifier. @internal
 */
export interface ClaimRules {
  readonly issuer: string;
  /** Accepted audiences: the token's `aud` (a string or an array) must name one of them. */
  readonly audiences: readonly string[];
  /** Claims that must be present, whatever their value (`exp` unless `requireExp: false`). */
  readonly required: readonly string[];
  readonly toleranceS: number;
  readonly maxTokenAgeS: number | undefined;
  /** The expected `typ` header, normalised (see {@link normalizeTyp}). */
  readonly typ: string | undefined;
}

/** A media type as RFC 7515 §4.1.9 compares it: case-insensitive, `application/` implied. @internal */
export function normalizeTyp(typ: string): string {
  const lower = typ.toLowerCase();
  return lower.includes('/') ? lower : `application/${lower}`;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Parses the payload of a token whose signature verified and checks its claims against `rules`
 * at `nowMs`; the same checks, order and tolerance as jose's `jwtVerify`, with our own errors.
 * Throws `InvalidTokenError` with reason `malformed`, `claim`, `expired`, `not_yet_valid` or
 * `too_old`. @internal
 */
export function checkClaims(
  header: JWTHeaderParameters,
  payload: Uint8Array,
  rules: ClaimRules,
  nowMs: number,
): JWTPayload {
  // RFC 7515 §5 / RFC 7797: a JWT's payload is always base64url-encoded.
  if (header.b64 === false) throw malformed();
  let claims: unknown;
  try {
    claims = JSON.parse(utf8.decode(payload));
  } catch (cause) {
    throw malformed(cause);
  }
  if (typeof claims !== 'object' || claims === null || Array.isArray(claims)) throw malformed();
  const set = claims as JWTPayload;
  if (
    rules.typ !== undefined &&
    (typeof header.typ !== 'string' || normalizeTyp(header.typ) !== rules.typ)
  ) {
    throw refused('typ');
  }
  const { required } = rules;
  for (let i = 0; i < required.length; i++) {
    if (!Object.hasOwn(set, required[i]!)) throw refused(required[i]!);
  }
  if (set.iss !== rules.issuer) throw refused('iss');
  const { aud } = set;
  if (
    !(typeof aud === 'string'
      ? rules.audiences.includes(aud)
      : Array.isArray(aud) && rules.audiences.some((a) => aud.includes(a)))
  ) {
    throw refused('aud');
  }
  const now = Math.floor(nowMs / 1000);
  const tolerance = rules.toleranceS;
  const iat = numericDate(set, 'iat');
  const nbf = numericDate(set, 'nbf');
  if (nbf !== undefined && nbf > now + tolerance) throw refused('nbf');
  const exp = numericDate(set, 'exp');
  if (exp !== undefined && exp <= now - tolerance) {
    throw new InvalidTokenError('expired', 'the token has expired');
  }
  if (rules.maxTokenAgeS !== undefined) {
    if (iat === undefined) throw refused('iat');
    const age = now - iat;
    if (age - tolerance > rules.maxTokenAgeS) {
      throw new InvalidTokenError('too_old', 'the token is older than maxTokenAgeMs');
    }
    if (age < -tolerance) throw refused('iat'); // issued in the future
  }
  return set;
}

/** A time claim: undefined when absent, refused when present but not a number. */
function numericDate(claims: JWTPayload, name: 'iat' | 'nbf' | 'exp'): number | undefined {
  const value = claims[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value)) throw refused(name);
  return value;
}

const REASONS: Record<string, 'not_yet_valid' | 'too_old'> = {
  nbf: 'not_yet_valid',
  iat: 'too_old',
};

function refused(claim: string): InvalidTokenError {
  return new InvalidTokenError(
    REASONS[claim] ?? 'claim',
    `the token's "${claim}" claim is missing or not accepted`,
  );
}

function malformed(cause?: unknown): InvalidTokenError {
  return new InvalidTokenError(
    'malformed',
    'the token is not a well-formed signed JWT (or uses an unsupported header)',
    cause === undefined ? undefined : { cause },
  );
}

/** The claim rules of a verifier's options, built once per verifier. @internal */
export function claimRules(o: ResolvedVerifierOptions): ClaimRules {
  const required = new Set([
    ...(o.requireExp ? ['exp'] : []),
    ...o.requiredClaims,
    'iss',
    'aud',
    ...(o.maxTokenAgeMs === undefined ? [] : ['iat']),
  ]);
  return {
    issuer: o.issuer,
    audiences: typeof o.audience === 'string' ? [o.audience] : o.audience,
    required: [...required],
    toleranceS: o.clockToleranceMs / 1000,
    maxTokenAgeS: o.maxTokenAgeMs === undefined ? undefined : o.maxTokenAgeMs / 1000,
    typ: o.typ === undefined ? undefined : normalizeTyp(o.typ),
  };
}
