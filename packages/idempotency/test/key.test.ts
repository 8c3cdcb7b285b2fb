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

describe('parseIdempotencyKey fast path', () => {
  // The rule as the full path states it (trim, length, not a number, the bare-key pattern).
  const reference = (value: string): string | undefined => {
    const text = value.trim();
    if (text.length === 0 || text.length > MAX_KEY_LENGTH || text.startsWith('"')) return undefined;
    if (/^-?\d{1,15}(\.\d{1,3})?$/.test(text)) return undefined;
    return /^[A-Za-z0-9][A-Za-z0-9._~:+/=-]*$/.test(text) ? text : undefined;
  };
  const parsed = (value: string) => {
    try {
      return parseIdempotencyKey(value);
    } catch {
      return undefined;
    }
  };

  it('accepts and refuses bare keys exactly as the full rule does', () => {
    const alphabet = 'aZ09.-_~:+/=" ,;?\u00e9\t';
    const samples = [
      '1.2.3',
      '2024.01.02',
      '1234567890123456',
      '123456789012345',
      '0.125',
      '0.1250',
    ];
    let seed = 7;
    const random = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    for (let i = 0; i < 5_000; i++) {
      const length = 1 + Math.floor(random() * 8);
      let text = '';
      for (let j = 0; j < length; j++) text += alphabet[Math.floor(random() * alphabet.length)];
      samples.push(text);
    }
    for (const sample of samples) {
      if (sample.trim().startsWith('"')) continue; // structured-field strings: the other path
      expect([sample, parsed(sample)]).toEqual([sample, reference(sample)]);
    }
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

  it('keeps the digests of earlier versions (stored records stay valid across an upgrade)', () => {
    const items = [1, 'x', null, true, { z: undefined, a: 2n }];
    // biome-ignore lint/suspicious/noSparseArray: a hole digests as it always did
    const sparse = [1, , 3];
    expect([
      digest(['POST', '/payments', { amount: 100, currency: 'EUR', items }]),
      digest(['POST', '/upload', Buffer.from('bytes')]),
      digest(['PATCH', '/p', undefined]),
      digest(sparse),
    ]).toEqual([
      'M1x40Wf6k6s0Jxhvj-zxRu_czOFJEDvpzk1HMKG7ero',
      'cbtdvCfrchWCnbHBk9976kVFzJskpyR4NJw3APY2sCA',
      'GR5F79tkZBB6CtLbWZG12QHKpO5J3iFOgg19WriPaac',
      'ywz8vGU5G4t-udAaI_KMP9-fhk34Sbbbq_VcO3fN8GY',
    ]);
  });
});
