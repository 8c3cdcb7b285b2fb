import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type {} from '@ballast/test-utils/global-setup';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { blockModule, type CodeBlock, readBlocks, type SourceLine } from '../src/extract.ts';
import { type Problem, type Resolution, typecheck } from '../src/typecheck.ts';

// Every ```ts / ```js block of every package README, each as a module of its own, type-checked
// against the built packages (`@ballast/*` resolves through the workspace links to each package's
// `exports`, i.e. its dist) as a strict user project with `exactOptionalPropertyTypes`, under
// node16 and under bundler resolution. Blocks marked ```ts run are executed too, with Node, and
// must exit 0 within 10 s; ```ts fragment blocks are listed, not compiled.

const repo = fileURLToPath(new URL('../../../', import.meta.url));
const readmes = readdirSync(join(repo, 'packages'))
  .sort()
  .map((name) => `packages/${name}/README.md`)
  .filter((file) => existsSync(join(repo, file)));
const blocks = readmes.flatMap((file) => readBlocks(repo, file));
const compiled = blocks.filter((block) => block.mode !== 'fragment');
const runnable = blocks.filter((block) => block.mode === 'run');
const fragments = blocks.filter((block) => block.mode === 'fragment');
const resolutions: Resolution[] = ['node16', 'bundler'];
const repoNode = join(repo, 'node_modules', '.bin', 'node');
const node = existsSync(repoNode) ? repoNode : process.execPath;
const runTimeoutMs = 10_000;

const where = (block: CodeBlock) => `${block.file}:${block.line}`;

let dir: string;
const paths = new Map<CodeBlock, string>();
const sources = new Map<CodeBlock, SourceLine[]>();
const problems = new Map<Resolution, Map<string, Problem[]>>();

beforeAll(() => {
  // A user project outside the repo that sees the repo's node_modules (and through its workspace
  // links, the packages as built).
  dir = mkdtempSync(join(tmpdir(), 'ballast-readme-'));
  symlinkSync(join(repo, 'node_modules'), join(dir, 'node_modules'), 'dir');
  writeFileSync(join(dir, 'package.json'), '{ "type": "module", "private": true }\n');
  for (const block of compiled) {
    const name = `${block.file.split('/')[1]}-L${block.line}.${block.language}`;
    const path = join(dir, name);
    const { code, lines } = blockModule(block);
    writeFileSync(path, code);
    paths.set(block, path);
    sources.set(block, lines);
  }
  for (const resolution of resolutions) {
    problems.set(resolution, typecheck([...paths.values()], resolution));
  }
}, 300_000);

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('README code blocks', () => {
  it('are found in every package README', () => {
    expect(readmes.length).toBeGreaterThan(0);
    expect(compiled.length).toBeGreaterThan(0);
  });

  it('compile as a project (no option or global errors)', () => {
    for (const resolution of resolutions) {
      expect(
        problems
          .get(resolution)!
          .get('')!
          .map((p) => p.text),
      ).toEqual([]);
    }
  });

  it.each(compiled.map((block) => [where(block), block] as const))(
    '%s type-checks under node16 and bundler resolution',
    (_name, block) => {
      const messages = resolutions.flatMap((resolution) =>
        problems
          .get(resolution)!
          .get(paths.get(block)!)!
          .map((p) => {
            const from = sources.get(block)![p.line];
            const at = from ? `${block.file}:${from.line}:${p.column + 1}` : block.file;
            const note = from?.context ? ' [in the ts context comment]' : '';
            return `${at} (${resolution}) ${p.text}${note}`;
          }),
      );
      expect(messages).toEqual([]);
    },
  );

  it.each(fragments.map((block) => [where(block), block] as const))(
    '%s is marked a fragment: neither compiled nor run',
    (_name, block) => {
      expect(block.code.trim()).not.toBe('');
    },
  );
});

interface RunResult {
  code: number | null;
  timedOut: boolean;
  output: string;
}

function runBlock(block: CodeBlock): Promise<RunResult> {
  const flags = process.versions.node.startsWith('22.') ? ['--experimental-strip-types'] : [];
  return new Promise((resolve) => {
    execFile(
      node,
      [...flags, paths.get(block)!],
      {
        cwd: dir,
        env: { ...process.env, REDIS_URL: inject('redisUrl') },
        timeout: runTimeoutMs,
        killSignal: 'SIGKILL',
        encoding: 'utf8',
      },
      (error, stdout, stderr) => {
        const failure = error as (Error & { code?: unknown; killed?: boolean }) | null;
        resolve({
          code: failure ? (typeof failure.code === 'number' ? failure.code : null) : 0,
          timedOut: failure?.killed === true,
          output: `${stdout}${stderr}`.trim(),
        });
      },
    );
  });
}

// One block at a time: they start servers and Node processes, and the machine is shared with the
// rest of the suite.
describe('README blocks marked run', () => {
  it.each(runnable.map((block) => [where(block), block] as const))(
    '%s exits 0 within 10 s',
    async (_name, block) => {
      let result = await runBlock(block);
      // A block that hangs hangs again; one that only met a machine busy with the rest of the
      // suite (start-up alone can take seconds then) gets one more try.
      if (result.timedOut) result = await runBlock(block);
      const outcome = result.timedOut
        ? `did not exit within ${runTimeoutMs / 1000} s (twice)`
        : `exited with code ${result.code}`;
      expect(
        result.code === 0 ? 'exited with code 0' : `${where(block)} ${outcome}:\n${result.output}`,
      ).toBe('exited with code 0');
    },
    2 * runTimeoutMs + 5_000,
  );
});
