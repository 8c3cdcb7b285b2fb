import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** A published workspace (`packages/*`, not private), as the packed-install test sees it. */
export interface PublishedPackage {
  name: string;
  dir: string;
  /** Every import specifier its `exports` map offers (except `./package.json`), e.g. `@ballast/auth/express`. */
  specifiers: string[];
  /** Optional peers (`peerDependenciesMeta.<name>.optional`), with their declared ranges. */
  optionalPeers: Record<string, string>;
  /** The `@ballast/*` packages it depends on (dependencies and required peers). */
  siblings: string[];
  /** Specifiers whose module is a declared side effect (`sideEffects` lists its files), e.g. `/register`. */
  sideEffectEntries: string[];
}

interface Manifest {
  name: string;
  private?: boolean;
  exports?: Record<string, unknown>;
  sideEffects?: boolean | string[];
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
}

/** Reads every published package under `<repo>/packages`, found anew on each run. */
export function publishedPackages(repo: string): PublishedPackage[] {
  const root = join(repo, 'packages');
  return readdirSync(root)
    .sort()
    .map((entry) => join(root, entry))
    .filter((dir) => existsSync(join(dir, 'package.json')))
    .map((dir) => ({ dir, pkg: JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) }))
    .filter(({ pkg }) => !(pkg as Manifest).private)
    .map(({ dir, pkg }) => {
      const manifest = pkg as Manifest;
      const subpaths = Object.keys(manifest.exports ?? { '.': null }).filter(
        (subpath) => subpath !== './package.json' && !subpath.includes('*'),
      );
      const optionalPeers = Object.fromEntries(
        Object.entries(manifest.peerDependencies ?? {}).filter(
          ([peer]) => manifest.peerDependenciesMeta?.[peer]?.optional,
        ),
      );
      const required = [
        ...Object.keys(manifest.dependencies ?? {}),
        ...Object.keys(manifest.peerDependencies ?? {}).filter((peer) => !(peer in optionalPeers)),
      ];
      const declared = Array.isArray(manifest.sideEffects) ? manifest.sideEffects : [];
      const sideEffectEntries = subpaths
        .filter((subpath) =>
          targetsOf(manifest.exports?.[subpath]).some((target) => declared.includes(target)),
        )
        .map((subpath) => manifest.name + subpath.slice(1));
      return {
        name: manifest.name,
        dir,
        specifiers: subpaths.map((subpath) => manifest.name + subpath.slice(1)),
        optionalPeers,
        siblings: required.filter((dep) => dep.startsWith('@ballast/')),
        sideEffectEntries,
      };
    });
}

/** Every file path an `exports` entry can resolve to. */
function targetsOf(entry: unknown): string[] {
  if (typeof entry === 'string') return [entry];
  if (entry && typeof entry === 'object') return Object.values(entry).flatMap(targetsOf);
  return [];
}

/** `name` and every `@ballast/*` package it needs, transitively. */
export function withSiblings(name: string, packages: PublishedPackage[]): string[] {
  const byName = new Map(packages.map((pkg) => [pkg.name, pkg]));
  const found = new Set<string>();
  const visit = (next: string) => {
    if (found.has(next)) return;
    found.add(next);
    for (const sibling of byName.get(next)?.siblings ?? []) visit(sibling);
  };
  visit(name);
  return [...found].sort();
}

/**
 * The optional peers to install for the second pass: every runtime peer (type-only `@types/*`
 * peers are left out), in a range that meets every package that declares it (their ranges,
 * joined: semver reads a space as "and"). npm then takes the newest matching version it has.
 */
export function peerInstallSpecs(packages: PublishedPackage[]): string[] {
  const ranges = new Map<string, string[]>();
  for (const pkg of packages) {
    for (const [peer, range] of Object.entries(pkg.optionalPeers)) {
      if (peer.startsWith('@types/')) continue;
      ranges.set(peer, [...(ranges.get(peer) ?? []), range]);
    }
  }
  return [...ranges]
    .map(([peer, list]) => {
      const unique = [...new Set(list)];
      // A range with alternatives (`||`) cannot be joined that way; the first one decides then.
      const joined = unique.some((range) => range.includes('||')) ? unique[0]! : unique.join(' ');
      return `${peer}@${joined}`;
    })
    .sort();
}
