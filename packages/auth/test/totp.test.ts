import { describe, expect, it } from 'vitest';
import { base32Decode, base32Encode } from '../src/base32.ts';
import { isAuthError, TotpError } from '../src/errors.ts';
import { assertTotp, generateTotpSecret, totp, totpUri, verifyTotp } from '../src/totp.ts';

// RFC 6238 Appendix B: seeds are ASCII "1234567890" repeated to 20, 32 and 64 bytes.
const SEEDS = {
  SHA1: Buffer.from('12345678901234567890'),
  SHA256: Buffer.from('12345678901234567890123456789012'),
  SHA512: Buffer.from('1234567890123456789012345678901234567890123456789012345678901234'),
} as const;

const VECTORS: [number, string, keyof typeof SEEDS][] = [
  [59, '94287082', 'SHA1'],
  [59, '46119246', 'SHA256'],
  [59, '90693936', 'SHA512'],
  [1111111109, '07081804', 'SHA1'],
  [1111111109, '68084774', 'SHA256'],
  [1111111109, '25091201', 'SHA512'],
  [1111111111, '14050471', 'SHA1'],
  [1111111111, '67062674', 'SHA256'],
  [1111111111, '99943326', 'SHA512'],
  [1234567890, '89005924', 'SHA1'],
  [1234567890, '91819424', 'SHA256'],
  [1234567890, '93441116', 'SHA512'],
  [2000000000, '69279037', 'SHA1'],
  [2000000000, '90698825', 'SHA256'],
  [2000000000, '38618901', 'SHA512'],
  [20000000000, '65353130', 'SHA1'],
  [20000000000, '77737706', 'SHA256'],
  [20000000000, '47863826', 'SHA512'],
];

describe('RFC 6238 Appendix B test vectors', () => {
  it.each(VECTORS)('T=%i s → %s (%s, 8 digits)', (seconds, code, algorithm) => {
    const options = { time: seconds * 1000, algorithm, digits: 8 };
    expect(totp(SEEDS[algorithm], options)).toBe(code);
    expect(totp(base32Encode(SEEDS[algorithm]), options)).toBe(code);
    expect(verifyTotp(code, { ...options, secret: SEEDS[algorithm], window: 0 })).toEqual({
      valid: true,
      step: Math.floor(seconds / 30),
      delta: 0,
    });
  });
});

describe('base32', () => {
  it('round-trips every length and matches RFC 4648 test vectors', () => {
    const rfc: [string, string][] = [
      ['f', 'MY'],
      ['fo', 'MZXQ'],
      ['foo', 'MZXW6'],
      ['foob', 'MZXW6YQ'],
      ['fooba', 'MZXW6YTB'],
      ['foobar', 'MZXW6YTBOI'],
    ];
    for (const [plain, encoded] of rfc) {
      expect(base32Encode(Buffer.from(plain))).toBe(encoded);
      expect(Buffer.from(base32Decode(encoded)!).toString()).toBe(plain);
    }
    expect(Buffer.from(base32Decode('mzxw 6ytb-oi======')!).toString()).toBe('foobar');
    for (const bad of ['M', 'MZX', 'MZXW6Y', 'MZ1W', 'MZ!W', 'MZXW6YTBOI=X']) {
      expect(base32Decode(bad)).toBeUndefined();
    }
  });
});

describe('TOTP', () => {
  const secret = generateTotpSecret();
  const now = 1_700_000_000_000;
  const step = Math.floor(now / 30_000);

  it('generates 160-bit base32 secrets by default, random each time', () => {
    expect(secret).toMatch(/^[A-Z2-7]{32}$/);
    expect(base32Decode(secret)).toHaveLength(20);
    expect(generateTotpSecret()).not.toBe(secret);
    expect(generateTotpSecret({ bytes: 32 })).toHaveLength(52);
  });

  it.each([8, 65, 20.5, '20'])('refuses a secret size of %j bytes, naming "bytes"', (bytes) => {
    expect(() => generateTotpSecret({ bytes: bytes as number })).toThrow(
      expect.objectContaining({
        code: 'INVALID_OPTIONS',
        message: expect.stringContaining('"bytes"'),
      }),
    );
  });

  it('produces 6-digit codes by default that change every 30 s', () => {
    const code = totp(secret, { time: now });
    expect(code).toMatch(/^\d{6}$/);
    expect(totp(secret, { time: new Date(now) })).toBe(code);
    expect(totp(secret, { time: step * 30_000 + 29_999 })).toBe(code);
    expect(totp(secret, { time: (step + 1) * 30_000 })).not.toBe(code);
    expect(totp(secret, { time: now, digits: 7 })).toMatch(/^\d{7}$/);
    expect(totp(secret, { time: now, periodMs: 60_000 })).toBe(
      totp(secret, { time: Math.floor(now / 60_000) * 60_000 + 59_999, periodMs: 60_000 }),
    );
  });

  it('accepts codes within the window and reports the drift', () => {
    const past = totp(secret, { time: now - 30_000 });
    const future = totp(secret, { time: now + 30_000 });
    expect(verifyTotp(past, { secret, time: now })).toEqual({
      valid: true,
      step: step - 1,
      delta: -1,
    });
    expect(verifyTotp(future, { secret, time: now })).toEqual({
      valid: true,
      step: step + 1,
      delta: 1,
    });
    expect(verifyTotp(past, { secret, time: now, window: 0 })).toEqual({
      valid: false,
      reason: 'mismatch',
    });
    const old = totp(secret, { time: now - 90_000 });
    expect(verifyTotp(old, { secret, time: now }).valid).toBe(false);
    expect(verifyTotp(old, { secret, time: now, window: 3 })).toMatchObject({
      valid: true,
      delta: -3,
    });
  });

  it('refuses a replayed code: same step or earlier than lastUsedStep', () => {
    const code = totp(secret, { time: now });
    const first = verifyTotp(code, { secret, time: now });
    expect(first).toMatchObject({ valid: true, step });
    const lastUsedStep = first.valid ? first.step : -1;
    expect(verifyTotp(code, { secret, time: now + 5_000, lastUsedStep })).toEqual({
      valid: false,
      reason: 'replay',
    });
    const previous = totp(secret, { time: now - 30_000 });
    expect(verifyTotp(previous, { secret, time: now, lastUsedStep })).toEqual({
      valid: false,
      reason: 'replay',
    });
    const next = totp(secret, { time: now + 30_000 });
    expect(verifyTotp(next, { secret, time: now + 30_000, lastUsedStep })).toMatchObject({
      valid: true,
      step: step + 1,
    });
  });

  it.each([
    ['too short', '12345'],
    ['too long', '1234567'],
    ['letters', '12a456'],
    ['empty', ''],
    ['unicode digits', '١٢٣٤٥٦'],
    ['a sign', '+12345'],
    ['not a string', 123456 as unknown as string],
  ])('calls a %s code malformed', (_name, code) => {
    expect(verifyTotp(code, { secret, time: now })).toEqual({ valid: false, reason: 'malformed' });
  });

  it('ignores spaces the user typed', () => {
    const code = totp(secret, { time: now });
    expect(verifyTotp(` ${code.slice(0, 3)} ${code.slice(3)} `, { secret, time: now }).valid).toBe(
      true,
    );
  });

  it('assertTotp returns the step or throws TotpError with the reason', () => {
    const code = totp(secret, { time: now });
    expect(assertTotp(code, { secret, time: now })).toBe(step);
    for (const [typed, reason] of [
      ['abc', 'malformed'],
      [code, 'replay'],
    ] as const) {
      let error: unknown;
      try {
        assertTotp(typed, { secret, time: now, lastUsedStep: step });
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(TotpError);
      expect(isAuthError(error, 'TOTP_INVALID')).toBe(true);
      expect(error).toMatchObject({ reason });
    }
  });

  it.each([
    ['not base32', 'not-base32!'],
    ['impossible length', 'ABC'],
    ['empty', ''],
    ['empty bytes', new Uint8Array()],
  ])('throws INVALID_OPTIONS naming "secret" for a secret that is %s', (_name, bad) => {
    for (const run of [
      () => totp(bad),
      () => verifyTotp('123456', { secret: bad }),
      () => totpUri({ secret: bad as string, issuer: 'Shop', account: 'a@b.c' }),
    ]) {
      let error: unknown;
      try {
        run();
      } catch (e) {
        error = e;
      }
      expect(isAuthError(error, 'INVALID_OPTIONS')).toBe(true);
      expect((error as Error).message).toContain('"secret"');
    }
  });

  it.each([
    [{ digits: 5 }, 'digits'],
    [{ digits: 9 }, 'digits'],
    [{ periodMs: 1_500 }, 'periodMs'],
    [{ algorithm: 'MD5' }, 'algorithm'],
    [{ window: -1 }, 'window'],
    [{ window: 11 }, 'window'],
    [{ lastUsedStep: 1.5 }, 'lastUsedStep'],
    [{ time: Number.NaN }, 'time'],
    [{ time: new Date('nope') }, 'time'],
  ])('throws INVALID_OPTIONS for %j', (bad, name) => {
    let error: unknown;
    try {
      verifyTotp('123456', { secret, ...(bad as object) });
    } catch (e) {
      error = e;
    }
    expect(isAuthError(error, 'INVALID_OPTIONS')).toBe(true);
    expect((error as Error).message).toContain(`"${name}`);
  });

  it('builds otpauth:// provisioning URIs', () => {
    const uri = totpUri({ secret, issuer: 'Ballast Shop', account: 'ana@example.com' });
    const parsed = new URL(uri);
    expect(parsed.protocol).toBe('otpauth:');
    expect(uri.startsWith('otpauth://totp/Ballast%20Shop:ana%40example.com?')).toBe(true);
    expect(Object.fromEntries(parsed.searchParams)).toEqual({
      secret,
      issuer: 'Ballast Shop',
      algorithm: 'SHA1',
      digits: '6',
      period: '30',
    });
    const custom = new URL(
      totpUri({
        secret,
        issuer: 'S',
        account: 'a',
        algorithm: 'SHA256',
        digits: 8,
        periodMs: 60_000,
      }),
    );
    expect(custom.searchParams.get('algorithm')).toBe('SHA256');
    expect(custom.searchParams.get('digits')).toBe('8');
    expect(custom.searchParams.get('period')).toBe('60');
    expect(() => totpUri({ secret, issuer: 'a:b', account: 'x' })).toThrow(/"issuer"/);
    expect(() => totpUri({ secret, issuer: 'a', account: '' })).toThrow(/"account"/);
  });
});
