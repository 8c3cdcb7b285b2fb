/**
 * The services as JavaScript: one ESM file per service, `dist/services/<svc>/index.js`, that the
 * launcher runs instead of the TypeScript entry. Stripping types at start-up costs every service
 * process Node's TypeScript loader — a WebAssembly build of swc, ~17 MB of memory per process,
 * twelve times over. The build is esbuild (~0.1 s): the shop's own modules of a service in one
 * file, every package left as an import from node_modules (as a user's app resolves them, and so
 * that tracing's module hooks still see koa and pino load).
 *
 * It also builds `dist/stack/http-facade.js`, the preload that keeps an ESM import of node:http
 * from loading Node's bundled undici (see http-facade.ts).
 *
 * `startStack()` runs this file (a child process, so esbuild never lives in the launcher) before
 * it starts anything; `node stack/build.ts` builds by hand.
 */
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const SHOP = join(dirname(fileURLToPath(import.meta.url)), '..');
export const DIST = join(SHOP, 'dist');

/** Builds every service; returns the entry files, relative to examples/shop. */
export async function buildServices(): Promise<string[]> {
  const services = readdirSync(join(SHOP, 'services'), { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => d.name);
  const entryPoints = [
    ...services.map((s) => join(SHOP, 'services', s, 'index.ts')),
    join(SHOP, 'stack', 'http-facade.ts'),
  ];
  await build({
    entryPoints,
    outbase: SHOP,
    outdir: DIST,
    bundle: true,
    splitting: false,
    platform: 'node',
    format: 'esm',
    target: 'node24',
    sourcemap: 'linked',
    logLevel: 'warning',
    packages: 'external',
  });
  return [...services.map((s) => `dist/services/${s}/index.js`), 'dist/stack/http-facade.js'];
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const t0 = performance.now();
  const files = await buildServices();
  console.log(
    `shop: built ${files.length} services into ${DIST} in ${Math.round(performance.now() - t0)} ms`,
  );
}
