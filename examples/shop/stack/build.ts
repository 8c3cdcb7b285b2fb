/**
 * The services as JavaScript: one ESM file per service, `dist/services/<svc>/index.js`, that the
 * launcher runs instead of the TypeScript entry. Stripping types at start-up costs every service
 * process Node's TypeScript loader — a WebAssembly build of swc, ~17 MB of memory per process,
 * twelve times over. The build is esbuild (~0.1 s): the shop's own modules of a service in one
 * file, every package left as an import from node_modules (as a user's app resolves them, and so
 * that tracing's module hooks still see koa and pino load).
 *
 * It also builds `dist/stack/http-facade.js`, the preload that keeps an ESM import of node:http
 * from loading Node's bundled undici (see http-facade.ts), and the launchers — `npm run shop`,
 * `shop:scenarios` and `shop:measure` build first and run `dist/stack/index.js`,
 * `dist/scenarios/index.js`, `dist/stack/measure.js` (the launcher is a process of the stack too).
 *
 * `startStack()` runs this file (a child process, so esbuild never lives in the launcher) before
 * it starts anything, so `node stack/index.ts` and the tests that start a stack get fresh service
 * files too; `node stack/build.ts` builds by hand.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build, type Plugin } from 'esbuild';

const SHOP = join(dirname(fileURLToPath(import.meta.url)), '..');
export const DIST = join(SHOP, 'dist');

/** The launcher's entries (`npm run shop`, `shop:scenarios`, `shop:measure` run these files). */
const LAUNCHERS = ['stack/index.ts', 'scenarios/index.ts', 'stack/measure.ts'];

/**
 * `import.meta.url`, `.dirname` and `.filename` in the shop's own modules keep naming the source
 * file: the code finds `config/`, `dashboard/public/` and its siblings next to it, not in dist/.
 */
const sourceImportMeta: Plugin = {
  name: 'source-import-meta',
  setup(b) {
    b.onLoad({ filter: /\.ts$/ }, (args) => {
      if (args.path.includes('/node_modules/')) return undefined;
      const values: Record<string, string> = {
        url: pathToFileURL(args.path).href,
        dirname: dirname(args.path),
        filename: args.path,
      };
      const contents = readFileSync(args.path, 'utf8').replace(
        /\bimport\.meta\.(url|dirname|filename)\b/g,
        (_, key: string) => JSON.stringify(values[key]),
      );
      return { contents, loader: 'ts' };
    });
  },
};

/** Builds every service and the launchers; returns the built entry files, relative to examples/shop. */
export async function buildServices(): Promise<string[]> {
  const services = readdirSync(join(SHOP, 'services'), { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => d.name);
  const entryPoints = [
    ...services.map((s) => join(SHOP, 'services', s, 'index.ts')),
    join(SHOP, 'stack', 'http-facade.ts'),
    ...LAUNCHERS.map((file) => join(SHOP, file)),
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
    plugins: [sourceImportMeta],
  });
  return [
    ...services.map((s) => `dist/services/${s}/index.js`),
    'dist/stack/http-facade.js',
    ...LAUNCHERS.map((file) => `dist/${file.replace(/\.ts$/, '.js')}`),
  ];
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const t0 = performance.now();
  const files = await buildServices();
  console.log(
    `shop: built ${files.length} entries into ${DIST} in ${Math.round(performance.now() - t0)} ms`,
  );
}
