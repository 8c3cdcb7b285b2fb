import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { o } from '@ballast/kernel';
import { base32Decode, base32Encode } from './base32.ts';
import { type InvalidOptionsError, TotpError, type TotpFailure } from './errors.ts';
import { optionError, parseAuthOptions } from './parse-options.ts';

/** HMAC hash of a TOTP (RFC 6238 allows SHA-1, SHA-256 and SHA-512). */
export type TotpAlgorithm = 'SHA1' | 'SHA256' | 'SHA512';

/** Parameters shared by the generator and the authenticator app; they must match on both sides. */
export interface TotpParameters {
  /** Default `'SHA1'` (the only one every authenticator app supports). */
  algorithm?: TotpAlgorithm | undefined;
  /** Code length, 6 to 8. Default 6. */
  digits?: number | undefined;
  /** Time step, a whole number of seconds in milliseconds. Default 30 000. */
  periodMs?: number | undefined;
}

/** Options of {@link totp}. */
export interface TotpOptions extends TotpParameters {
  /** The moment the code is for (epoch milliseconds or a Date). Default: now. */
  time?: number | Date | undefined;
}

/** Options of {@link verifyTotp} and {@link assertTotp}. */
export interface VerifyTotpOptions extends TotpOptions {
  /** The user's secret: base32 text (as enrolled) or raw bytes. */
  secret: string | Uint8Array;
  /** Steps accepted either side of the current one, for clock drift. Default 1 (±30 s). */
  window?: number | undefined;
  /**
   * The step returned by the last successful verification for this user; a code for this step or
   * an earlier one is refused as a replay. Persist the returned `step` and pass it here.
   */
  lastUsedStep?: number | undefined;
}

/** Result of {@link verifyTotp}. */
export type TotpVerification =
  | {
      readonly valid: true;
      /** The matched time step: store it as the user's `lastUsedStep`. */
      readonly step: number;
      /** Matched step minus the current step (negative: the user's device is behind). */
      readonly delta: number;
    }
  | { readonly valid: false; readonly reason: TotpFailure };

/** Options of {@link generateTotpSecret}. */
export interface GenerateTotpSecretOptions {
  /** Secret size in bytes, 16–64. Default 20 (160 bits, as RFC 4226 recommends). */
  bytes?: number | undefined;
}

/** Options of {@link totpUri}. */
export interface TotpUriOptions extends TotpParameters {
  /** Base32 secret, e.g. from {@link generateTotpSecret}. */
  secret: string;
  /** Your service's name, shown by the app (no `:`). */
  issuer: string;
  /** The user's account name, e.g. an email address (no `:`). */
  account: string;
}

const parametersShape = {
  algorithm: o.oneOf(['SHA1', 'SHA256', 'SHA512']).default('SHA1'),
  digits: o.number({ integer: true, min: 6, max: 8 }).default(6),
  periodMs: o
    .number({ integer: true, min: 1_000, max: 3_600_000 })
    .refine((v) => v % 1_000 === 0, 'must be a whole number of seconds (in ms)')
    .default(30_000),
};
const timeSchema = o
  .union(
    o.number({ min: 0 }).refine(Number.isFinite, 'must be a finite number'),
    o.instanceOf(Date, 'a Date').refine((d) => !Number.isNaN(d.getTime()), 'must be a valid Date'),
  )
  .optional();
// The secret is checked by hand (secretBytes), so that a rejected one never appears in a message.
const totpSchema = o.object({ ...parametersShape, time: timeSchema });
const verifySchema = o.object({
  ...parametersShape,
  time: timeSchema,
  secret: o.unknown(),
  window: o.number({ integer: true, min: 0, max: 10 }).default(1),
  lastUsedStep: o.number({ integer: true, min: 0 }).optional(),
});
const noColon = () =>
  o.string({
    minLength: 1,
    pattern: { regex: /^[^:]+$/, expected: 'a non-empty string without ":"' },
  });
const uriSchema = o.object({
  ...parametersShape,
  secret: o.unknown(),
  issuer: noColon(),
  account: noColon(),
});
const generateSchema = o.object({
  bytes: o.number({ integer: true, min: 16, max: 64 }).default(20),
});

/**
 * Generates a random TOTP secret as base32 (default 20 bytes = 160 bits, as RFC 4226 recommends).
 * Store it encrypted; show it to the user once, via {@link totpUri}.
 */
export function generateTotpSecret(options: GenerateTotpSecretOptions = {}): string {
  const { bytes } = parseAuthOptions(generateSchema, options, 'generateTotpSecret()');
  return base32Encode(randomBytes(bytes));
}

/** The TOTP code (RFC 6238) of `secret` at `options.time` (default now). */
export function totp(secret: string | Uint8Array, options: TotpOptions = {}): string {
  const opts = parseAuthOptions(totpSchema, options, 'totp()');
  const key = secretBytes('totp()', secret);
  return hotp(key, stepAt(opts.time, opts.periodMs), opts.algorithm, opts.digits);
}

/**
 * Checks a code the user typed (spaces ignored) against the steps within `window` of now, in
 * constant time. Returns the matched `step` (persist it as `lastUsedStep`) or why it failed:
 * `malformed` (not `digits` digits), `mismatch`, or `replay` (step ≤ `lastUsedStep`).
 * Bad options or a secret that is not base32 throw `AuthError` `INVALID_OPTIONS`.
 */
export function verifyTotp(code: string, options: VerifyTotpOptions): TotpVerification {
  const opts = parseAuthOptions(verifySchema, options, 'verifyTotp()');
  const key = secretBytes('verifyTotp()', opts.secret);
  const typed = typeof code === 'string' ? code.replace(/\s+/g, '') : '';
  if (typed.length !== opts.digits || !/^\d+$/.test(typed))
    return { valid: false, reason: 'malformed' };
  const current = stepAt(opts.time, opts.periodMs);
  const typedBytes = Buffer.from(typed);
  let accepted: number | undefined;
  let replayed = false;
  for (let step = current - opts.window; step <= current + opts.window; step++) {
    if (step < 0) continue;
    const expected = Buffer.from(hotp(key, step, opts.algorithm, opts.digits));
    if (!timingSafeEqual(expected, typedBytes)) continue;
    if (opts.lastUsedStep !== undefined && step <= opts.lastUsedStep) replayed = true;
    else accepted ??= step;
  }
  if (accepted !== undefined) return { valid: true, step: accepted, delta: accepted - current };
  return { valid: false, reason: replayed ? 'replay' : 'mismatch' };
}

/**
 * Like {@link verifyTotp}, but returns the matched step and throws `TotpError` (`TOTP_INVALID`,
 * with `reason`) when the code is refused.
 */
export function assertTotp(code: string, options: VerifyTotpOptions): number {
  const result = verifyTotp(code, options);
  if (result.valid) return result.step;
  const messages: Record<TotpFailure, string> = {
    malformed: 'the code is not a number of the expected length; ask the user to type it again',
    mismatch: 'the code is wrong or too old; ask the user for the current code',
    replay: 'the code was already used; ask the user to wait for the next code',
  };
  throw new TotpError(result.reason, `TOTP code refused: ${messages[result.reason]}`);
}

/**
 * The `otpauth://totp/...` provisioning URI for authenticator apps (render it as a QR code).
 * The URI contains the secret: send it only to the enrolling user, over TLS.
 */
export function totpUri(options: TotpUriOptions): string {
  const opts = parseAuthOptions(uriSchema, options, 'totpUri()');
  secretBytes('totpUri()', opts.secret);
  const secret = opts.secret as string;
  const label = `${encodeURIComponent(opts.issuer)}:${encodeURIComponent(opts.account)}`;
  const query = new URLSearchParams({
    secret: secret.replace(/[\s-]/g, '').replace(/=+$/, '').toUpperCase(),
    issuer: opts.issuer,
    algorithm: opts.algorithm,
    digits: String(opts.digits),
    period: String(opts.periodMs / 1_000),
  });
  return `otpauth://totp/${label}?${query.toString().replace(/\+/g, '%20')}`;
}

function secretBytes(where: string, secret: unknown): Uint8Array {
  if (typeof secret !== 'string') {
    if (!(secret instanceof Uint8Array))
      throw badSecret(where, 'must be a base32 string or a Uint8Array');
    if (secret.length === 0) throw badSecret(where, 'must not be empty');
    return secret;
  }
  const bytes = base32Decode(secret);
  if (!bytes || bytes.length === 0) {
    throw badSecret(where, 'must be base32 (letters A–Z and digits 2–7)');
  }
  return bytes;
}

function badSecret(where: string, rule: string): InvalidOptionsError {
  // The secret itself never appears in the message.
  return optionError(
    where,
    'secret',
    '(hidden)',
    `${rule}; pass the base32 secret stored at enrolment`,
  );
}

function stepAt(time: number | Date | undefined, periodMs: number): number {
  const ms = time === undefined ? Date.now() : typeof time === 'number' ? time : time.getTime();
  return Math.floor(ms / periodMs);
}

/** HOTP (RFC 4226): HMAC of the 8-byte counter, dynamic truncation, `digits` decimal digits. */
function hotp(key: Uint8Array, counter: number, algorithm: TotpAlgorithm, digits: number): string {
  const message = Buffer.alloc(8);
  message.writeBigUInt64BE(BigInt(counter));
  const mac = createHmac(algorithm.toLowerCase(), key).update(message).digest();
  const offset = mac[mac.length - 1]! & 0x0f;
  const binary = mac.readUInt32BE(offset) & 0x7fffffff;
  return String(binary % 10 ** digits).padStart(digits, '0');
}
