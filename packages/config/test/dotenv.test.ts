import { describe, expect, it } from 'vitest';
import { parseDotenv } from '../src/index.ts';

describe('parseDotenv()', () => {
  it('follows dotenv: comments, export, quotes, escapes, multi-line, inline comments, duplicates', () => {
    const text = [
      '# comment',
      '',
      'BASIC=basic',
      'export EXPORTED=yes',
      '  SPACED  =  padded value  ',
      'EMPTY=',
      "SINGLE='no \\n expansion # kept'",
      'DOUBLE="line1\\nline2"',
      'BACKTICK=`has \'both\' "quotes"`',
      'MULTI="first',
      'second"',
      'INLINE=value # comment',
      'HASH=value#not-a-comment',
      'DOTTED.KEY=dots',
      'COLON: yaml-ish',
      'UNCLOSED="rest of line',
      'not a pair',
      'BASIC=again',
      'CRLF=windows\r',
    ].join('\n');
    expect(parseDotenv(text)).toEqual({
      BASIC: 'again',
      EXPORTED: 'yes',
      SPACED: 'padded value',
      EMPTY: '',
      SINGLE: 'no \\n expansion # kept',
      DOUBLE: 'line1\nline2',
      BACKTICK: `has 'both' "quotes"`,
      MULTI: 'first\nsecond',
      INLINE: 'value',
      HASH: 'value#not-a-comment',
      'DOTTED.KEY': 'dots',
      COLON: 'yaml-ish',
      UNCLOSED: '"rest of line',
      CRLF: 'windows',
    });
  });

  it('handles an empty file and a file without a final newline', () => {
    expect(parseDotenv('')).toEqual({});
    expect(parseDotenv('A=1')).toEqual({ A: '1' });
  });
});
