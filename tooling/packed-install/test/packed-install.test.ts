import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { peerInstallSpecs, publishedPackages, withSiblings } from '../src/packages.ts';

// Installs every published package the way a user does — `npm pack`, then `npm install` of the
// tarball into an empty project outside the repo, so nothing of the monorepo's node_modules is
// visible — and loads every subpath of its `exports` map with import() and require().
// First each package alone (with only the @ballast packages it depends on, from their tarballs):
// an optional peer imported at module top level fails here. One project per package, because
// one package's regular dependency (tracing's OpenTelemetry) would hide another's missing peer.
// Then all packages together with every optional peer installed.
// Packages are found anew on each run: a new package is covered without an edit here.
// Needs the packages built (`npm test` builds first).

const repo = fileURLToPath(new URL('../../../', import.meta.url));
const packages = publishedPackages(repo);
const specifiers = packages.flatMap((pkg) => pkg.specifiers);
const sideEffectEntries = new Set(packages.flatMap((pkg) => pkg.sideEffectEntries));
// The repo's own Node 24 when it is there; the Node running vitest otherwise (the CI matrix).
const repoNode = join(repo, 'node_modules', '.bin', 'node');
const node = existsSync(repoNode) ? repoNode : process.execPath;

let work: string;
const tarballs = new Map<string, string>();

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
  const result = await run('npm', [...args, ...flags], cwd, 150_000);
  if (result.code !== 0) {
    throw new Error(`npm ${args.join(' ')} failed (${result.code}):\n${result.stderr}`);
  }
  return result.stdout;
}

/**
 * A project that depends on the tarballs of `names` (so one package's dependency on another,
 * `@ballast/kernel`, is met by the packed sibling, never by the registry) and on `extra` specs.
 */
async function installProject(dirName: string, names: string[], extra: string[] = []) {
  const project = join(work, dirName);
  mkdirSync(project);
  const dependencies = Object.fromEntries(
    names.map((name) => [name, `file:../${tarballs.get(name)}`]),
  );
  writeFileSync(
    join(project, 'package.json'),
    `${JSON.stringify({ name: `probe-${dirName}`, private: true, dependencies }, null, 2)}\n`,
  );
  copyFileSync(join(import.meta.dirname, '..', 'src', 'probe.cjs'), join(project, 'probe.cjs'));
  await npm(['install', '--no-package-lock', '--ignore-scripts', ...extra], project);
  return project;
}

interface Loaded {
  specifier: string;
  exports?: Record<string, string>;
  error?: string;
}

/** Loads `wanted` in a fresh Node process of `project`. */
async function probe(project: string, mode: 'esm' | 'cjs', wanted: string[]): Promise<Loaded[]> {
  const result = await run(node, ['probe.cjs', mode, ...wanted], project, 30_000);
  if (result.timedOut) {
    throw new Error(
      `loading ${wanted.join(', ')} (${mode}) left the process running for 30 s: something starts a timer, socket or process at import time`,
    );
  }
  if (result.code !== 0)
    throw new Error(`probe (${mode}) exited ${result.code}:\n${result.stderr}`);
  return JSON.parse(result.stdout.trim().split('\n').at(-1)!) as Loaded[];
}

/** Both builds of every specifier in `wanted`, loaded in `project`. */
async function loadAll(project: string, wanted: string[]) {
  const [esm, cjs] = await Promise.all([
    probe(project, 'esm', wanted),
    probe(project, 'cjs', wanted),
  ]);
  return new Map(wanted.map((s, i) => [s, { esm: esm[i], cjs: cjs[i] }]));
}

/** What is wrong with one module as loaded by import() and by require(); empty when nothing is. */
function problems(specifier: string, esm: Loaded | undefined, cjs: Loaded | undefined): string[] {
  const found: string[] = [];
  if (esm?.error) found.push(`import(): ${esm.error}`);
  if (cjs?.error) found.push(`require(): ${cjs.error}`);
  if (found.length > 0) return found;
  const exportsOf = (loaded: Loaded | undefined) => loaded?.exports ?? {};
  const names = new Set([...Object.keys(exportsOf(esm)), ...Object.keys(exportsOf(cjs))]);
  // A declared side-effect entry (`node --import pkg/register`) may export nothing at all.
  const sideEffectOnly = names.size === 0 && sideEffectEntries.has(specifier);
  if (!sideEffectOnly && !Object.values(exportsOf(esm)).includes('function')) {
    found.push('exports no function');
  }
  // The ESM and the CommonJS build offer the same names, of the same kinds.
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

/** A nested @ballast/* copy would mean npm did not take the sibling tarball for a dependency. */
function nestedCopies(project: string): string[] {
  return packages
    .filter((pkg) =>
      existsSync(join(project, 'node_modules', pkg.name, 'node_modules', '@ballast')),
    )
    .map((pkg) => pkg.name);
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'ballast-packed-'));
  const workspaces = packages.flatMap((pkg) => ['-w', pkg.name]);
  const packed = JSON.parse(
    await npm(['pack', '--json', '--pack-destination', work, ...workspaces], repo),
  ) as { name: string; filename: string }[];
  for (const tarball of packed) tarballs.set(tarball.name, tarball.filename);
}, 120_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('each package installed alone from its tarball, without its optional peers', () => {
  const loaded = new Map<string, { esm: Loaded | undefined; cjs: Loaded | undefined }>();
  const nested: string[] = [];

  beforeAll(async () => {
    // Two installs at a time: npm is mostly waiting on its cache, but the machine has two cores.
    const queue = [...packages];
    const worker = async () => {
      for (let pkg = queue.shift(); pkg; pkg = queue.shift()) {
        const project = await installProject(
          `alone-${pkg.name.split('/').at(-1)}`,
          withSiblings(pkg.name, packages),
        );
        nested.push(...nestedCopies(project));
        for (const [specifier, both] of await loadAll(project, pkg.specifiers)) {
          loaded.set(specifier, both);
        }
      }
    };
    await Promise.all([worker(), worker()]);
  }, 240_000);

  it.each(specifiers)('%s loads with import() and require()', (specifier) => {
    const both = loaded.get(specifier);
    expect(problems(specifier, both?.esm, both?.cjs)).toEqual([]);
  });

  it('depend on each other through the packed tarballs, never a copy from the registry', () => {
    expect(nested).toEqual([]);
  });
});

describe('all packages installed from their tarballs, with every optional peer', () => {
  let loaded: Map<string, { esm: Loaded | undefined; cjs: Loaded | undefined }>;
  let project: string;

  beforeAll(async () => {
    project = await installProject('all', [...tarballs.keys()], peerInstallSpecs(packages));
    loaded = await loadAll(project, specifiers);
  }, 240_000);

  it.each(specifiers)('%s loads with import() and require()', (specifier) => {
    const both = loaded.get(specifier);
    expect(problems(specifier, both?.esm, both?.cjs)).toEqual([]);
  });

  it('depend on each other through the packed tarballs, never a copy from the registry', () => {
    expect(nestedCopies(project)).toEqual([]);
  });
});

describe('the packages found', () => {
  it('include every published package', () => {
    expect(packages.map((pkg) => pkg.name)).toEqual(
      expect.arrayContaining(['@ballast/auth', '@ballast/breaker', '@ballast/idempotency']),
    );
  });
});
