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
}

interface Manifest {
  name: string;
  private?: boolean;
  exports?: Record<string, unknown>;
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
      return {
        name: manifest.name,
        dir,
        specifiers: subpaths.map((subpath) => manifest.name + subpath.slice(1)),
        optionalPeers,
      };
    });
}

/**
 * The optional peers to install for the second pass: every runtime peer (type-only `@types/*`
 * peers are left out), at the version the monorepo itself has installed when it has one (so npm
 * takes it from its cache), else at the declared range.
 */
export function peerInstallSpecs(repo: string, packages: PublishedPackage[]): string[] {
  const specs = new Map<string, string>();
  for (const pkg of packages) {
    for (const [peer, range] of Object.entries(pkg.optionalPeers)) {
      if (peer.startsWith('@types/') || specs.has(peer)) continue;
      const installed = [join(pkg.dir, 'node_modules', peer), join(repo, 'node_modules', peer)]
        .map((dir) => join(dir, 'package.json'))
        .find((file) => existsSync(file));
      const version = installed
        ? (JSON.parse(readFileSync(installed, 'utf8')) as { version: string }).version
        : range;
      specs.set(peer, `${peer}@${version}`);
    }
  }
  return [...specs.values()].sort();
}
