import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { median } from './measure.ts';
import { writeReport } from './report.ts';
import { benchRoot, type CaseResult, readResults, writeResults } from './results.ts';

// Usage (from a package): node ../../bench/src/run.ts  — runs that package's bench/*.bench.ts.
// BENCH_ROUNDS (default 5) sets how many rounds; BENCH_FILTER=<group> runs one group only.
const packageDir = process.cwd();
const pkg = JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8')) as { name: string };
const benchDir = join(packageDir, 'bench');
const rounds = Number(process.env.BENCH_ROUNDS ?? 5);
const filter = process.env.BENCH_FILTER;
const worker = join(benchRoot, 'src', 'worker.ts');
const files = existsSync(benchDir)
  ? readdirSync(benchDir)
      .filter((f) => f.endsWith('.bench.ts'))
      .sort()
      .map((f) => join(benchDir, f))
  : [];
if (files.length === 0) throw new Error(`no bench/*.bench.ts in ${packageDir}`);

function runWorker(args: string[]): string {
  const out = execFileSync(process.execPath, ['--expose-gc', worker, ...args], {
    cwd: packageDir,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 16 * 1024 * 1024,
  });
  return out.trim().split('\n').at(-1)!;
}

type Listed = Omit<CaseResult, 'value'> & { file: string; rounds?: number };
const listed: Listed[] = files.flatMap((file) =>
  (JSON.parse(runWorker([file, '--list'])) as Omit<Listed, 'file'>[])
    .filter((c) => !filter || c.group === filter)
    .map((c) => ({ ...c, file })),
);

const samples = new Map<Listed, number[]>(listed.map((c) => [c, []]));
for (let round = 1; round <= rounds; round++) {
  // Alternate the order each round so no variant always runs first (or last) on a warm machine.
  const order = round % 2 ? listed : [...listed].reverse();
  for (const c of order) {
    if (c.rounds !== undefined && round > c.rounds) continue;
    const { value } = JSON.parse(runWorker([c.file, c.group, c.name])) as { value: number };
    samples.get(c)!.push(value);
    console.log(`round ${round}/${rounds}  ${c.group}/${c.name}: ${value.toFixed(1)} ${c.unit}`);
  }
}

const measured: CaseResult[] = listed.map(({ file: _file, rounds: _rounds, ...c }, i) => {
  const values = samples.get(listed[i]!)!;
  return { ...c, value: median(values), samples: values.map((v) => Number(v.toPrecision(6))) };
});
// A filtered run replaces its own group and keeps the other groups' stored results.
const kept = filter ? (readResults(pkg.name)?.cases.filter((c) => c.group !== filter) ?? []) : [];
const cases = [...kept, ...measured];
const file = writeResults({
  package: pkg.name,
  node: process.version,
  date: new Date().toISOString().slice(0, 10),
  command: `npm run bench -w ${pkg.name}`,
  rounds,
  cases,
});
console.log(`wrote ${file} and ${writeReport()}`);
