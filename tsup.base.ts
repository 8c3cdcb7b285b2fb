import { defineConfig, type Options } from 'tsup';

/**
 * The one tsup configuration every package uses: ESM + CJS, `.d.ts`/`.d.cts`, Node 22 target.
 * A package passes only its entry points (the index and any adapter subpaths).
 */
export function packageBuild(entry: Record<string, string>, overrides: Options = {}) {
  return defineConfig({
    entry,
    format: ['esm', 'cjs'],
    dts: true,
    target: 'node22',
    platform: 'node',
    sourcemap: true,
    clean: true,
    // Subpath entries (adapters, interceptors) share one copy of the core, so `instanceof` and
    // module state agree across entry points.
    splitting: true,
    treeshake: true,
    ...overrides,
  });
}
