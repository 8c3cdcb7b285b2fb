// Run as a child process: loads the built package as an installed copy would be loaded, with
// `@opentelemetry/api` made unresolvable (as when the optional peer is not installed), records
// every package each import pulls in, and uses a memory store through every entry point.
// Prints one JSON line: { loaded: [...bare specifiers resolved], ok: true }.
import { createRequire, isBuiltin, registerHooks } from 'node:module';

const hidden = (process.env.HIDE ?? '').split(',').filter(Boolean);
const loaded = new Set();
registerHooks({
  resolve(specifier, context, next) {
    if (isBuiltin(specifier))
      loaded.add(specifier.startsWith('node:') ? specifier : `node:${specifier}`);
    else if (!specifier.startsWith('.') && !specifier.startsWith('file:')) {
      const name = specifier.startsWith('@')
        ? specifier.split('/').slice(0, 2).join('/')
        : specifier.split('/')[0];
      if (hidden.includes(name)) {
        throw Object.assign(new Error(`Cannot find package '${name}'`), {
          code: 'ERR_MODULE_NOT_FOUND',
        });
      }
      loaded.add(name);
    }
    return next(specifier, context);
  },
});

const atImport = () => [...loaded].sort();
const dist = new URL('../../dist/', import.meta.url);
const require = createRequire(dist);
const entries = [
  'index',
  'adapters/express',
  'adapters/fastify',
  'adapters/koa',
  'adapters/node-http',
  'adapters/fetch',
];
const mode = process.env.MODE ?? 'esm';
const modules = {};
for (const entry of entries) {
  modules[entry] =
    mode === 'esm' ? await import(new URL(`${entry}.js`, dist).href) : require(`./${entry}.cjs`);
}
const imported = atImport();
const { idempotent, memoryStore } = modules.index;
let runs = 0;
const once = idempotent(async (id) => ({ id, run: ++runs }), {
  store: memoryStore(),
  key: (id) => id,
});
await once('a');
const replay = await once('a');
const handler = modules['adapters/fetch'].idempotency(
  async () => Response.json({ ok: true }, { status: 201 }),
  {
    store: memoryStore(),
  },
);
const request = () =>
  new Request('http://127.0.0.1/pay', {
    method: 'POST',
    body: '{}',
    headers: { 'idempotency-key': 'k1' },
  });
const first = await handler(request());
const second = await handler(request());
const ok =
  replay.run === 1 && first.status === 201 && second.headers.get('idempotent-replayed') === 'true';
process.stdout.write(`${JSON.stringify({ loaded: imported, ok })}\n`);
