// Cold import cost: milliseconds from `import()` to a loaded module, in a fresh Node process each
// time, for each Ballast package's main entry and the library a user would pick instead.
// Run with `npm run bench:import` (builds first: the packages are imported from their dist).
import { execFileSync } from 'node:child_process';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BenchCase, defineBench, median } from '@ballast/bench';

/** Fresh processes per case and round; the case's value is their median. */
const PROCESSES = Number(process.env.IMPORT_PROCESSES ?? 15);
const here = dirname(fileURLToPath(import.meta.url));

// Only the import itself is timed, not the process start; the specifier resolves from here, i.e.
// the repo's node_modules (the workspace packages' dist, and the peers as bench devDependencies).
const probe = [
  'const start = performance.now();',
  'await import(process.argv[1]);',
  'console.log(performance.now() - start);',
].join('\n');

function coldImportMs(specifier: string): number {
  const samples: number[] = [];
  for (let i = 0; i < PROCESSES; i++) {
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', probe, specifier], {
      cwd: here,
      encoding: 'utf8',
      env: { ...process.env, NODE_OPTIONS: '' },
    });
    samples.push(Number(out.trim().split('\n').at(-1)));
  }
  return median(samples);
}

const cases: [name: string, specifier: string][] = [
  ['ballast-breaker', '@ballast/breaker'],
  ['cockatiel', 'cockatiel'],
  ['ballast-auth', '@ballast/auth'],
  ['jose', 'jose'],
  ['ballast-idempotency', '@ballast/idempotency'],
  ['node-idempotency', '@node-idempotency/core'],
];

export default defineBench(
  cases.map(
    ([name, specifier]): BenchCase => ({
      group: 'import',
      name,
      unit: 'ms',
      lowerIsBetter: true,
      run: () => coldImportMs(specifier),
    }),
  ),
);
