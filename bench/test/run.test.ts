import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import type { PackageResults } from '../src/results.ts';

const runScript = fileURLToPath(new URL('../src/run.ts', import.meta.url));
const defineModule = fileURLToPath(new URL('../src/define.ts', import.meta.url));
let dir: string | undefined;

afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('bench run', () => {
  it('records a failing case as failed, keeps the other results and exits non-zero', () => {
    dir = mkdtempSync(join(tmpdir(), 'ballast-bench-run-'));
    const pkg = join(dir, 'pkg');
    mkdirSync(join(pkg, 'bench'), { recursive: true });
    writeFileSync(join(pkg, 'package.json'), '{ "name": "@ballast/fixture" }\n');
    writeFileSync(
      join(pkg, 'bench', 'fixture.bench.ts'),
      [
        `import { defineBench } from ${JSON.stringify(defineModule)};`,
        'const c = { unit: "ns/op", lowerIsBetter: true };',
        'export default defineBench([',
        '  { ...c, group: "a", name: "bare", run: () => 10 },',
        '  { ...c, group: "b", name: "broken", run: () => { throw new Error("Command queue state error"); } },',
        '  { ...c, group: "b", name: "bare", run: () => 20 },',
        ']);',
      ].join('\n'),
    );
    const run = spawnSync(process.execPath, [runScript], {
      cwd: pkg,
      encoding: 'utf8',
      env: { ...process.env, BENCH_ROUNDS: '2', BENCH_OUTPUT_DIR: join(dir, 'out') },
    });
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/1 bench case\(s\) FAILED/);
    expect(run.stderr).toMatch(
      /b\/broken: round 1: worker exited with code 1: Error: Command queue state error/,
    );
    const results = JSON.parse(
      readFileSync(join(dir, 'out', 'results', 'fixture.json'), 'utf8'),
    ) as PackageResults;
    expect(results.cases.map((c) => [c.group, c.name, c.value])).toEqual([
      ['a', 'bare', 10],
      ['b', 'bare', 20],
    ]);
    expect(results.failed).toEqual([
      { group: 'b', name: 'broken', error: expect.stringMatching(/Command queue state error/) },
    ]);
    const report = readFileSync(join(dir, 'out', 'RESULTS.md'), 'utf8');
    expect(report).toMatch(/- \*\*FAILED\*\* `broken`: round 1: worker exited with code 1/);
    expect(report).toContain('| bare | 20.0 | ns/op (lower is better) | 1.00× |');
  });
});
