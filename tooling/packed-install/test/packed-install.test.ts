import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { peerInstallSpecs, publishedPackages } from '../src/packages.ts';

// Installs every published package the way a user does — `npm pack`, then `npm install` of the
// tarballs into an empty project outside the repo, so nothing of the monorepo's node_modules is
// visible — and loads every subpath of every `exports` map with import() and require(). First with
// no optional peer installed (an optional peer imported at module top level fails here), then with
// all of them. Packages are found anew on each run: a new package is covered without an edit here.
// Needs the packages built (`npm test` builds first).

const repo = fileURLToPath(new URL('../../../', import.meta.url));
const packages = publishedPackages(repo);
const specifiers = packages.flatMap((pkg) => pkg.specifiers);
// The repo's own Node 24 when it is there; the Node running vitest otherwise (the CI matrix).
const repoNode = join(repo, 'node_modules', '.bin', 'node');
const node = existsSync(repoNode) ? repoNode : process.execPath;

let work: string;
let project: string;

/** npm's environment without what `npm test` itself passes down (workspace flags and the like). */
function npmEnv(): NodeJS.ProcessEnv {
  const keep = new Set(['npm_config_cache', 'npm_config_registry', 'npm_config_userconfig']);
  return Object.fromEntries(
    Object.entries(process.env).filter(([key]) => !key.startsWith('npm_') || keep.has(key)),
  );
}

function run(
  command: string,
  args: string[],
  cwd: string,
  timeoutMs: number,
): Promise<{ stdout: string; stderr: string; code: number | null; timedOut: boolean }> {
  return new Promise((resolve) => {
    execFile(
      command,
      args,
      { cwd, env: npmEnv(), timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024, encoding: 'utf8' },
      (error, stdout, stderr) => {
        const failure = error as (Error & { code?: unknown; killed?: boolean }) | null;
        resolve({
          stdout,
          stderr,
          code: failure ? (typeof failure.code === 'number' ? failure.code : 1) : 0,
          timedOut: failure?.killed === true,
        });
      },
    );
  });
}

async function npm(args: string[], cwd: string): Promise<string> {
  const flags = ['--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error'];
  const result = await run('npm', [...args, ...flags], cwd, 120_000);
  if (result.code !== 0) {
    throw new Error(`npm ${args.join(' ')} failed (${result.code}):\n${result.stderr}`);
  }
  return result.stdout;
}

interface Loaded {
  specifier: string;
  exports?: Record<string, string>;
  error?: string;
}

/** Loads every specifier in a fresh Node process of the temporary project. */
async function probe(mode: 'esm' | 'cjs'): Promise<Map<string, Loaded>> {
  const result = await run(node, ['probe.cjs', mode, ...specifiers], project, 30_000);
  if (result.timedOut) {
    throw new Error(
      `loading the packages (${mode}) left the process running for 30 s: something starts a timer, socket or process at import time`,
    );
  }
  if (result.code !== 0)
    throw new Error(`probe (${mode}) exited ${result.code}:\n${result.stderr}`);
  const loaded = JSON.parse(result.stdout.trim().split('\n').at(-1)!) as Loaded[];
  return new Map(loaded.map((entry) => [entry.specifier, entry]));
}

/** What is wrong with one module as loaded by import() and by require(); empty when nothing is. */
function problems(esm: Loaded | undefined, cjs: Loaded | undefined): string[] {
  const found: string[] = [];
  if (esm?.error) found.push(`import(): ${esm.error}`);
  if (cjs?.error) found.push(`require(): ${cjs.error}`);
  if (found.length > 0) return found;
  const exportsOf = (loaded: Loaded | undefined) => loaded?.exports ?? {};
  if (!Object.values(exportsOf(esm)).includes('function')) found.push('exports no function');
  // The ESM and the CommonJS build offer the same names, of the same kinds.
  const names = new Set([...Object.keys(exportsOf(esm)), ...Object.keys(exportsOf(cjs))]);
  for (const name of names) {
    const [viaImport, viaRequire] = [exportsOf(esm)[name], exportsOf(cjs)[name]];
    if (viaImport !== viaRequire) {
      found.push(
        `${name}: ${viaImport ?? 'missing'} from import(), ${viaRequire ?? 'missing'} from require()`,
      );
    }
  }
  return found;
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'ballast-packed-'));
  project = join(work, 'project');
  mkdirSync(project);
  const workspaces = packages.flatMap((pkg) => ['-w', pkg.name]);
  const packed = JSON.parse(
    await npm(['pack', '--json', '--pack-destination', work, ...workspaces], repo),
  ) as { name: string; filename: string }[];
  // Every tarball is a dependency of the project, so one package's dependency on another
  // (`@ballast/kernel`) is met by the packed sibling, never by the registry.
  const dependencies = Object.fromEntries(
    packed.map((tarball) => [tarball.name, `file:../${tarball.filename}`]),
  );
  writeFileSync(
    join(project, 'package.json'),
    `${JSON.stringify({ name: 'packed-install-probe', private: true, dependencies }, null, 2)}\n`,
  );
  copyFileSync(join(import.meta.dirname, '..', 'src', 'probe.cjs'), join(project, 'probe.cjs'));
  await npm(['install', '--no-package-lock', '--ignore-scripts'], project);
}, 180_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe.each([
  { peers: 'without its optional peers', install: false },
  { peers: 'with its optional peers', install: true },
])('installed from its tarball $peers', ({ install }) => {
  let esm: Map<string, Loaded>;
  let cjs: Map<string, Loaded>;

  beforeAll(async () => {
    if (install) {
      await npm(
        ['install', '--no-package-lock', '--ignore-scripts', ...peerInstallSpecs(repo, packages)],
        project,
      );
    }
    [esm, cjs] = await Promise.all([probe('esm'), probe('cjs')]);
  }, 180_000);

  it.each(specifiers)('%s loads with import() and require()', (specifier) => {
    expect(problems(esm.get(specifier), cjs.get(specifier))).toEqual([]);
  });
});

describe('the packages found', () => {
  it('depend on each other through the packed tarballs, never a copy from the registry', () => {
    // A nested @ballast/* copy would mean npm did not take the sibling tarball for a dependency.
    const nested = packages.filter((pkg) =>
      existsSync(join(project, 'node_modules', pkg.name, 'node_modules', '@ballast')),
    );
    expect(nested.map((pkg) => pkg.name)).toEqual([]);
  });

  it('include every published package', () => {
    expect(packages.map((pkg) => pkg.name)).toEqual(
      expect.arrayContaining(['@ballast/auth', '@ballast/breaker', '@ballast/idempotency']),
    );
  });
});
