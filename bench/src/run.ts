import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { median } from './measure.ts';
import { writeReport } from './report.ts';
import {
  benchRoot,
  type CaseResult,
  type FailedCase,
  readResults,
  writeResults,
} from './results.ts';

// Usage (from a package): node ../../bench/src/run.ts  — runs that package's bench/*.bench.ts.
// BENCH_ROUNDS (default 5) sets how many rounds; BENCH_FILTER=<group> runs one group only.
// A case that fails is not run again; the others go on, their results are written, the failure is
// recorded next to them (and in RESULTS.md), and the run exits non-zero at the end.
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

/** Runs the worker; its last stdout line, or an Error with the worker's last stderr line. */
function runWorker(args: string[]): string {
  const run = spawnSync(process.execPath, ['--expose-gc', worker, ...args], {
    cwd: packageDir,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    maxBuffer: 16 * 1024 * 1024,
  });
  if (run.stderr) process.stderr.write(run.stderr);
  if (run.status !== 0 || run.error) {
    // The thrown error's own line ("Error: …"), else the last line that is not a stack frame.
    const lines = (run.stderr ?? '')
      .split('\n')
      .map((line) => line.trim())
      .filter(
        (line) => /\w/.test(line) && !line.startsWith('at ') && !line.startsWith('Node.js v'),
      );
    const last = lines.findLast((line) => /^[\w.]*(Error|Exception)\b/.test(line)) ?? lines.at(-1);
    const why = run.error?.message ?? last ?? 'no message';
    throw new Error(`worker exited with ${run.signal ?? `code ${run.status}`}: ${why}`);
  }
  return run.stdout.trim().split('\n').at(-1)!;
}

const failed: FailedCase[] = [];

type Listed = Omit<CaseResult, 'value'> & { file: string; rounds?: number };
const listed: Listed[] = files.flatMap((file) => {
  let cases: Omit<Listed, 'file'>[];
  try {
    cases = JSON.parse(runWorker([file, '--list'])) as Omit<Listed, 'file'>[];
  } catch (error) {
    const message = `${file}: cannot list its cases: ${(error as Error).message}`;
    console.error(`FAILED ${message}`);
    failed.push({ group: '*', name: file.split('/').at(-1)!, error: message });
    return [];
  }
  return cases.filter((c) => !filter || c.group === filter).map((c) => ({ ...c, file }));
});

const samples = new Map<Listed, number[]>(listed.map((c) => [c, []]));
const errors = new Map<Listed, string>();
for (let round = 1; round <= rounds; round++) {
  // Alternate the order each round so no variant always runs first (or last) on a warm machine.
  const order = round % 2 ? listed : [...listed].reverse();
  for (const c of order) {
    if (c.rounds !== undefined && round > c.rounds) continue;
    if (errors.has(c)) continue;
    try {
      const { value } = JSON.parse(runWorker([c.file, c.group, c.name])) as { value: number };
      if (typeof value !== 'number' || !Number.isFinite(value)) {
        throw new Error(`run() returned ${JSON.stringify(value)}, not a finite number`);
      }
      samples.get(c)!.push(value);
      console.log(`round ${round}/${rounds}  ${c.group}/${c.name}: ${value.toFixed(1)} ${c.unit}`);
    } catch (error) {
      errors.set(c, `round ${round}: ${(error as Error).message}`);
      console.error(
        `round ${round}/${rounds}  ${c.group}/${c.name}: FAILED (${(error as Error).message})`,
      );
    }
  }
}

const measured: CaseResult[] = [];
for (const c of listed) {
  const { file: _file, rounds: _rounds, ...result } = c;
  const error = errors.get(c);
  if (error !== undefined) {
    failed.push({ group: c.group, name: c.name, error });
    continue;
  }
  const values = samples.get(c)!;
  measured.push({
    ...result,
    value: median(values),
    samples: values.map((v) => Number(v.toPrecision(6))),
  });
}
// A filtered run replaces its own group and keeps the other groups' stored results.
const stored = filter ? readResults(pkg.name) : undefined;
const kept = stored?.cases.filter((c) => c.group !== filter) ?? [];
const keptFailures = stored?.failed?.filter((c) => c.group !== filter) ?? [];
const cases = [...kept, ...measured];
const allFailed = [...keptFailures, ...failed];
const file = writeResults({
  package: pkg.name,
  node: process.version,
  date: new Date().toISOString().slice(0, 10),
  command: process.env.BENCH_COMMAND ?? `npm run bench -w ${pkg.name}`,
  rounds,
  cases,
  ...(allFailed.length > 0 ? { failed: allFailed } : {}),
});
console.log(`wrote ${file} and ${writeReport()}`);
if (failed.length > 0) {
  console.error(`\n${failed.length} bench case(s) FAILED; the other results were written:`);
  for (const f of failed) console.error(`  ${f.group}/${f.name}: ${f.error}`);
  process.exitCode = 1;
}
