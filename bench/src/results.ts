import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** One row of a results file. */
export interface CaseResult {
  group: string;
  name: string;
  value: number;
  unit: string;
  lowerIsBetter: boolean;
  /** The case its group is compared with (else the group's `bare`). */
  reference?: boolean;
  /** Every round's value, in round order (results written before these were kept lack them). */
  samples?: number[];
}

/** A case that failed in the last run: no value, and why. */
export interface FailedCase {
  group: string;
  name: string;
  error: string;
}

/** The shape of `bench/results/<package>.json`. */
export interface PackageResults {
  package: string;
  node: string;
  date: string;
  command: string;
  rounds: number;
  cases: CaseResult[];
  /** Cases that failed in the run that wrote this file (absent when none did). */
  failed?: FailedCase[];
}

export const benchRoot = join(dirname(fileURLToPath(import.meta.url)), '..');
/** Where results/ and RESULTS.md go: the bench workspace, or BENCH_OUTPUT_DIR (the harness's own tests). */
export const outputDir = process.env.BENCH_OUTPUT_DIR ?? benchRoot;
export const resultsDir = join(outputDir, 'results');

function resultsFile(packageName: string): string {
  return join(resultsDir, `${packageName.replace(/^@ballast\//, '')}.json`);
}

/** The stored results of one package, if it has been benchmarked. */
export function readResults(packageName: string): PackageResults | undefined {
  const file = resultsFile(packageName);
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as PackageResults) : undefined;
}

export function writeResults(results: PackageResults): string {
  const file = resultsFile(results.package);
  mkdirSync(resultsDir, { recursive: true });
  writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
  return file;
}

export function readAllResults(): PackageResults[] {
  return (
    readdirSync(resultsDir)
      .filter((f) => f.endsWith('.json'))
      .sort()
      .map((f) => JSON.parse(readFileSync(join(resultsDir, f), 'utf8')) as PackageResults)
      // Other runs keep their records here too (the shop's scenario run writes shop.json).
      .filter((results) => Array.isArray(results.cases))
  );
}
