import { describe, expect, it } from 'vitest';
import { blockModule, extractBlocks } from '../src/extract.ts';

const fence = '```';

describe('extractBlocks', () => {
  it('reads the language and the marker, with the line of the opening fence', () => {
    const md = [
      '# x',
      `${fence}ts`,
      'const a = 1;',
      fence,
      `${fence}ts run`,
      'console.log(1);',
      fence,
      `${fence}ts fragment`,
      '{ a: 1 }',
      fence,
      `${fence}sh`,
      'npm test',
      fence,
      `${fence}js`,
      'let b;',
      fence,
    ].join('\n');
    expect(
      extractBlocks(md, 'R.md').map(({ line, language, mode }) => [line, language, mode]),
    ).toEqual([
      [2, 'ts', 'check'],
      [5, 'ts', 'run'],
      [8, 'ts', 'fragment'],
      [14, 'js', 'check'],
    ]);
  });

  it('refuses an unknown marker instead of skipping the block', () => {
    expect(() => extractBlocks(`${fence}ts fragmnet\nx\n${fence}`, 'R.md')).toThrow(
      /R\.md:1: unknown marker "fragmnet"/,
    );
    expect(() => extractBlocks(`${fence}ts\nx\n`, 'R.md')).toThrow(
      /R\.md:1: code block is never closed/,
    );
  });

  it('removes the indentation of a block inside a list item, and ignores fences inside a longer one', () => {
    const md = ['- item', '', `   ${fence}ts`, '   const a = 1;', '     b();', `   ${fence}`].join(
      '\n',
    );
    expect(extractBlocks(md, 'R.md')[0]!.code).toBe('const a = 1;\n  b();');
    const nested = ['````md', `${fence}ts`, 'not a block', fence, '````'].join('\n');
    expect(extractBlocks(nested, 'R.md')).toEqual([]);
  });

  it('attaches a ts context comment to the block right below it only', () => {
    const md = [
      '<!-- ts context',
      'declare const app: unknown;',
      '-->',
      '',
      `${fence}ts`,
      'app;',
      fence,
      `${fence}ts`,
      'other;',
      fence,
    ].join('\n');
    const [first, second] = extractBlocks(md, 'R.md');
    expect(first!.context).toEqual({ code: 'declare const app: unknown;', line: 2 });
    expect(second!.context).toBeUndefined();
    const text = ['<!-- ts context', 'x', '-->', 'some prose', `${fence}ts`, 'y', fence].join('\n');
    expect(extractBlocks(text, 'R.md')[0]!.context).toBeUndefined();
  });
});

describe('blockModule', () => {
  it('puts the block where the context says, and maps every line back to the README', () => {
    const [block] = extractBlocks(
      [
        '<!-- ts context',
        'async function f() {',
        '// @block',
        '}',
        '-->',
        `${fence}ts`,
        'return 1;',
        fence,
      ].join('\n'),
      'R.md',
    );
    const { code, lines } = blockModule(block!);
    expect(code).toBe('async function f() {\nreturn 1;\n}\nexport {};\n');
    expect(lines.map((l) => [l.line, l.context])).toEqual([
      [2, true],
      [7, false],
      [4, true],
      [8, false],
    ]);
  });
});

describe('blockModule inside a function', () => {
  it('hoists the block’s imports above the context', () => {
    const md = [
      '<!-- ts context',
      'declare const x: number;',
      'function f() {',
      '// @block',
      '}',
      '-->',
      `${fence}ts`,
      "import { a } from 'a';",
      'import {',
      '  b,',
      "} from 'b';",
      'return a + b + x;',
      fence,
    ].join('\n');
    const { code, lines } = blockModule(extractBlocks(md, 'R.md')[0]!);
    expect(code).toBe(
      "import { a } from 'a';\nimport {\n  b,\n} from 'b';\ndeclare const x: number;\nfunction f() {\nreturn a + b + x;\n}\nexport {};\n",
    );
    expect(lines.map((l) => l.line)).toEqual([8, 9, 10, 11, 2, 3, 12, 5, 13]);
  });
});
