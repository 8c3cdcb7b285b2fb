import { readFileSync } from 'node:fs';

/** What the test does with a fenced block, from its info string. */
export type BlockMode = 'check' | 'run' | 'fragment';

/** One fenced code block of a README. */
export interface CodeBlock {
  /** The README, relative to the repo root. */
  file: string;
  /** 1-based line of the opening fence. */
  line: number;
  /** `ts` or `js`. */
  language: 'ts' | 'js';
  mode: BlockMode;
  /** The block's text, without the fences and without the fence's indentation. */
  code: string;
  /**
   * Hidden set-up from a `<!-- ts context … -->` comment right above the block (declarations of
   * the `app`, `verifier`, … the block uses), and the 1-based README line where it starts.
   */
  context?: { code: string; line: number };
}

const languages: Record<string, CodeBlock['language']> = {
  ts: 'ts',
  typescript: 'ts',
  js: 'js',
  javascript: 'js',
};
const modes: Record<string, BlockMode> = { run: 'run', fragment: 'fragment' };

/**
 * Every TypeScript and JavaScript block of a markdown text. The info string is the language, then
 * at most one marker: ```` ```ts ```` is type-checked, ```` ```ts run ```` is also executed,
 * ```` ```ts fragment ```` is neither (a snippet that cannot stand alone). Any other marker is an
 * error, so a typo never turns a block into one that is silently skipped. Blocks in other
 * languages (`sh`, `json`, …) are not returned.
 *
 * A block that uses names set up elsewhere (`app`, `verifier`) can still be checked: an HTML
 * comment right above it (only blank lines between), invisible on GitHub and npm, gives them.
 * Its code goes before the block's, or where a line `// @block` stands in it (to put the block
 * inside a function):
 *
 *     <!-- ts context
 *     declare const app: import('express').Express;
 *     -->
 */
export function extractBlocks(markdown: string, file: string): CodeBlock[] {
  const lines = markdown.split('\n');
  const blocks: CodeBlock[] = [];
  let open: {
    fence: string;
    indent: number;
    line: number;
    info: string[];
    body: string[];
    context: CodeBlock['context'];
  } | null = null;
  // The last context comment, while only blank lines follow it.
  let context: CodeBlock['context'] | undefined;
  let inContext: { line: number; body: string[] } | null = null;
  for (const [index, text] of lines.entries()) {
    if (inContext) {
      if (text.includes('-->')) {
        context = { code: inContext.body.join('\n'), line: inContext.line };
        inContext = null;
      } else {
        inContext.body.push(text);
      }
      continue;
    }
    if (open) {
      const close = /^( {0,3})(`{3,}|~{3,})\s*$/.exec(text);
      if (close && close[2]![0] === open.fence[0] && close[2]!.length >= open.fence.length) {
        const [language, ...markers] = open.info;
        const lang = language ? languages[language.toLowerCase()] : undefined;
        if (lang) {
          if (markers.length > 1 || (markers[0] !== undefined && !modes[markers[0]])) {
            throw new Error(
              `${file}:${open.line}: unknown marker "${markers.join(' ')}" after ${language} (use "run" or "fragment")`,
            );
          }
          const mode = markers[0] ? modes[markers[0]]! : 'check';
          const block: CodeBlock = {
            file,
            line: open.line,
            language: lang,
            mode,
            code: open.body.join('\n'),
          };
          if (open.context) block.context = open.context;
          blocks.push(block);
        }
        open = null;
      } else {
        // Remove the opening fence's indentation (a block inside a list item), no more.
        const indent = /^ */.exec(text)![0].length;
        open.body.push(text.slice(Math.min(indent, open.indent)));
      }
      continue;
    }
    if (/^\s*<!--\s*ts context\b/.test(text)) {
      if (text.includes('-->')) throw new Error(`${file}:${index + 1}: empty ts context comment`);
      inContext = { line: index + 2, body: [] };
      continue;
    }
    const fence = /^( *)(`{3,}|~{3,})(.*)$/.exec(text);
    if (!fence && text.trim() !== '') context = undefined;
    if (fence) {
      const info = fence[3]!.trim();
      // A backtick fence's info string cannot contain a backtick (CommonMark).
      if (fence[2]![0] === '`' && info.includes('`')) continue;
      open = {
        fence: fence[2]!,
        indent: fence[1]!.length,
        line: index + 1,
        info: info.split(/\s+/).filter(Boolean),
        body: [],
        context,
      };
      context = undefined;
    }
  }
  if (open) throw new Error(`${file}:${open.line}: code block is never closed`);
  if (inContext)
    throw new Error(`${file}:${inContext.line - 1}: ts context comment is never closed`);
  return blocks;
}

/** The blocks of a README file, named relative to `root`. */
export function readBlocks(root: string, file: string): CodeBlock[] {
  return extractBlocks(readFileSync(`${root}/${file}`, 'utf8'), file);
}

/** Where a line of the generated module comes from. */
export interface SourceLine {
  /** 1-based README line. */
  line: number;
  /** Whether it is a line of the hidden context rather than of the block. */
  context: boolean;
}

/**
 * The module written for a block: its context (if any) with the block in place, then `export {}`
 * so that every block is a module of its own. `lines[i]` says where line `i` (0-based) came from.
 */
export function blockModule(block: CodeBlock): { code: string; lines: SourceLine[] } {
  const blockLines = block.code.split('\n').map((text, i) => ({
    text,
    from: { line: block.line + 1 + i, context: false },
  }));
  const contextLines = (block.context?.code.split('\n') ?? []).map((text, i) => ({
    text,
    from: { line: block.context!.line + i, context: true },
  }));
  const at = contextLines.findIndex(({ text }) => text.trim() === '// @block');
  let out: typeof blockLines;
  if (at === -1) {
    out = [...contextLines, ...blockLines];
  } else {
    // The block goes inside the context (a function body); its imports cannot, so they go first.
    const imports = importLines(blockLines.map(({ text }) => text));
    out = [
      ...blockLines.filter((_, i) => imports.has(i)),
      ...contextLines.slice(0, at),
      ...blockLines.filter((_, i) => !imports.has(i)),
      ...contextLines.slice(at + 1),
    ];
  }
  out.push({
    text: 'export {};',
    from: { line: block.line + blockLines.length + 1, context: false },
  });
  return {
    code: `${out.map(({ text }) => text).join('\n')}\n`,
    lines: out.map(({ from }) => from),
  };
}

/** Indexes of the lines that make up top-level `import` declarations. */
function importLines(lines: string[]): Set<number> {
  const found = new Set<number>();
  let inImport = false;
  for (const [i, text] of lines.entries()) {
    if (!inImport && !/^import[\s{*'"]/.test(text)) continue;
    found.add(i);
    // An import ends at its module specifier.
    inImport = !/(['"])[^'"]*\1\s*(with\s*\{[^}]*\}\s*)?;?\s*(\/\/.*)?$/.test(text);
  }
  return found;
}
