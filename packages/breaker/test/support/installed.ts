import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const packages = resolve(here, '../../..');

/** A throw-away project holding the built breaker and kernel and nothing else (no OpenTelemetry). */
export interface InstalledCopy {
  readonly dir: string;
  /** Runs `source` as `name` (`.mjs` or `.cjs`) in the project with Node; returns what it did. */
  run(name: string, source: string): { status: number | null; stdout: string; stderr: string };
  remove(): void;
}

/**
 * Copies the built `@ballast/breaker` and `@ballast/kernel` (package.json + dist) into a fresh
 * project outside the monorepo, so that nothing else resolves from it — as a user who installed
 * only `@ballast/breaker` has it. Needs `npm run build` first (`npm test` builds).
 */
export function installedCopy(): InstalledCopy {
  const dir = mkdtempSync(join(tmpdir(), 'ballast-breaker-'));
  for (const name of ['breaker', 'kernel']) {
    const target = join(dir, 'node_modules', '@ballast', name);
    mkdirSync(target, { recursive: true });
    cpSync(join(packages, name, 'package.json'), join(target, 'package.json'));
    cpSync(join(packages, name, 'dist'), join(target, 'dist'), { recursive: true });
  }
  writeFileSync(join(dir, 'package.json'), '{ "name": "user-project", "private": true }\n');
  return {
    dir,
    run(name, source) {
      writeFileSync(join(dir, name), source);
      const child = spawnSync(process.execPath, [name], {
        cwd: dir,
        encoding: 'utf8',
        timeout: 10_000,
      });
      return { status: child.status, stdout: child.stdout, stderr: child.stderr };
    },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
