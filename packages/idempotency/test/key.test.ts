import { describe, expect, it } from 'vitest';
import { digest } from '../src/fingerprint.ts';
import { isIdempotencyError, MAX_KEY_LENGTH, parseIdempotencyKey } from '../src/index.ts';

describe('parseIdempotencyKey', () => {
  it('accepts a structured-field string and unescapes it', () => {
    expect(parseIdempotencyKey('"8e03978e-40d5-43e8-bc93-6894a57f9324"')).toBe(
      '8e03978e-40d5-43e8-bc93-6894a57f9324',
    );
    expect(parseIdempotencyKey('"a \\"quoted\\" \\\\ key"')).toBe('a "quoted" \\ key');
    expect(parseIdempotencyKey('  "padded"  ')).toBe('padded');
  });

  it('accepts a bare token (Stripe style), including a UUID that starts with digits', () => {
    expect(parseIdempotencyKey('8e03978e-40d5-43e8-bc93-6894a57f9324')).toBe(
      '8e03978e-40d5-43e8-bc93-6894a57f9324',
    );
    expect(parseIdempotencyKey('order_123:retry/2+x=')).toBe('order_123:retry/2+x=');
  });

  it(`accepts ${MAX_KEY_LENGTH} characters and rejects one more`, () => {
    expect(parseIdempotencyKey('k'.repeat(MAX_KEY_LENGTH))).toHaveLength(MAX_KEY_LENGTH);
    expect(parseIdempotencyKey(`"${'k'.repeat(MAX_KEY_LENGTH)}"`)).toHaveLength(MAX_KEY_LENGTH);
    expect(() => parseIdempotencyKey('k'.repeat(MAX_KEY_LENGTH + 1))).toThrow(/longer than 255/);
    expect(() => parseIdempotencyKey(`"${'k'.repeat(MAX_KEY_LENGTH + 1)}"`)).toThrow(
      /longer than 255/,
    );
  });

  it.each([
    ['', 'empty'],
    ['""', 'empty'],
    ['"a\u0001b"', 'control'],
    ['"caf\u00e9"', 'non-ASCII'],
    ['"a\\nb"', 'bad escape'],
    ['42', 'number'],
    ['-4.5', 'number'],
    ['?0', 'not allowed'],
    [':cGF5:', 'not allowed'],
    ['a, b', 'not allowed'],
    ['"a", "b"', 'after the quoted string'],
    ['"a";p=1', 'after the quoted string'],
    ['"open', 'not closed'],
    ['key with spaces', 'not allowed'],
  ])('rejects %j (%s) with IDEMPOTENCY_KEY_INVALID', (value, why) => {
    let caught: unknown;
    try {
      parseIdempotencyKey(value, 'Idempotency-Key');
    } catch (error) {
      caught = error;
    }
    expect(isIdempotencyError(caught, 'IDEMPOTENCY_KEY_INVALID')).toBe(true);
    expect((caught as Error).message).toContain(why);
  });
});

describe('digest', () => {
  it('is stable across object key order and tells types apart', () => {
    expect(digest({ a: 1, b: [1, 'x'] })).toBe(digest({ b: [1, 'x'], a: 1 }));
    expect(digest('1')).not.toBe(digest(1));
    expect(digest(Buffer.from('ab'))).not.toBe(digest('ab'));
    expect(digest(['ab', 'c'])).not.toBe(digest(['a', 'bc']));
    expect(digest(null)).not.toBe(digest(undefined));
  });
});
