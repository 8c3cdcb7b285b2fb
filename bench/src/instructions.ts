import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

// V8 draws random primes for its string-hash seed at start-up; how long that search takes varies
// from run to run and would otherwise be the largest noise in a count.
const RANDOM_STARTUP = /detail::sprp|HashSeed::InitializeRoots/;

/**
 * Machine instructions a Node.js script executes, all threads, counted by valgrind's cachegrind —
 * far steadier than a time on a shared machine, though how the script's threads interleave can
 * still move it by a percent or two. V8 runs single-threaded (`--single-threaded`: no background
 * compiler or GC threads) so the JIT tiers up the same way on every run; V8's randomised start-up
 * work is left out. Needs `valgrind` (`apt-get install valgrind`). Compare two counts of the same
 * script with different amounts of work to get a per-operation figure.
 */
export async function countInstructions(script: string, args: readonly string[]): Promise<number> {
  await run('valgrind', ['--version']).catch((cause) => {
    throw new Error('instruction counts need valgrind on the PATH (apt-get install valgrind)', {
      cause,
    });
  });
  const dir = await mkdtemp(join(tmpdir(), 'ballast-cachegrind-'));
  const out = join(dir, 'cachegrind.out');
  try {
    await run(
      'valgrind',
      [
        '--tool=cachegrind',
        '--cache-sim=no',
        '--branch-sim=no',
        '--smc-check=all-non-file', // V8 writes machine code at run time
        `--cachegrind-out-file=${out}`,
        process.execPath,
        '--single-threaded',
        script,
        ...args,
      ],
      { maxBuffer: 64 * 1024 * 1024 },
    );
    return netInstructions(await readFile(out, 'utf8'));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The total of a cachegrind output file, less the functions of V8's randomised start-up. */
export function netInstructions(cachegrindOut: string): number {
  let total: number | undefined;
  let skipped = 0;
  let inRandom = false;
  for (const line of cachegrindOut.split('\n')) {
    if (line.startsWith('fn=')) inRandom = RANDOM_STARTUP.test(line);
    else if (line.startsWith('summary:')) total = Number(line.slice(8).trim().split(/\s+/)[0]);
    else if (inRandom && /^\d/.test(line)) skipped += Number(line.split(/\s+/)[1] ?? 0);
  }
  if (total === undefined || !Number.isFinite(total)) {
    throw new Error('no "summary:" line in the cachegrind output');
  }
  return total - skipped;
}
