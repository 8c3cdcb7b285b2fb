import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BenchCase, countInstructions, defineBench, median, nsPerOp } from '@ballast/bench';
import { createConfig, file, redisSource } from '@ballast/config';
import { startRedisServer } from '@ballast/test-utils';
import { Redis } from 'ioredis';
import { stringify } from 'yaml';

// Each case runs in a process of its own (see bench/src/run.ts). Every variant reads the same
// configuration (fixture.ts).

import {
  ballastConfig,
  envName,
  fixture,
  fromEnv,
  leaves,
  nest,
  READ,
  READ_PATH,
  schema,
  type Tree,
} from './fixture.ts';

const require = createRequire(import.meta.url);

// ---- convict ----

function convictSchema() {
  const tree: Record<string, unknown> = {};
  const envLeaves = new Set(fromEnv);
  return (
    nest(
      leaves.map((l) => [
        l.path,
        {
          doc: l.path.join('.'),
          format: l.kind === 'string' ? String : l.kind === 'number' ? Number : Boolean,
          default: l.fallback,
          ...(envLeaves.has(l) ? { env: envName(l) } : {}),
        },
      ]),
    ) ?? tree
  );
}

function convictConfig(yamlFile: string) {
  const convict = require('convict') as typeof import('convict');
  const { parse } = require('yaml') as typeof import('yaml');
  convict.addParser({ extension: ['yaml', 'yml'], parse });
  const conf = convict(convictSchema() as never);
  conf.loadFile(yamlFile);
  conf.validate({ allowed: 'strict' });
  return conf;
}

// ---- node-config ----

async function nodeConfigLoad(dir: string): Promise<Record<string, unknown>> {
  const { Load } = (await import(join(require.resolve('config'), '..', 'util.js'))) as {
    Load: new (options: object) => { scan(): Record<string, unknown> };
  };
  return new Load({ configDir: dir, nodeEnv: ['production'] }).scan();
}

// ---- cases ----

const ITERATIONS = { iterations: 1_000_000, batches: 9, warmup: 200_000 };
let sink: unknown;
// Reads `sink` once, so the reads measured above cannot be optimised away as unused.
process.on('exit', () => {
  if (sink === Symbol.for('never')) console.log(sink);
});

const get: BenchCase[] = [
  {
    group: 'get',
    name: 'bare',
    unit: 'ns/op',
    lowerIsBetter: true,
    async run() {
      const { yamlFile } = fixture();
      // The same snapshot, a frozen plain object read directly. It is held in a variable that is
      // assigned twice, as an application's configuration object would be when it is replaced:
      // a binding assigned once lets the optimiser fold the whole read into a constant, which would
      // measure an empty loop rather than a read.
      let plain = {} as Tree;
      plain = (await ballastConfig(yamlFile)).get() as unknown as Tree;
      return nsPerOp(() => {
        sink = plain.s2.g3.k4;
      }, ITERATIONS);
    },
  },
  {
    group: 'get',
    name: 'ballast',
    unit: 'ns/op',
    lowerIsBetter: true,
    async run() {
      const { yamlFile } = fixture();
      const config = (await ballastConfig(yamlFile)) as unknown as { get(): Tree };
      return nsPerOp(() => {
        sink = config.get().s2.g3.k4;
      }, ITERATIONS);
    },
  },
  {
    group: 'get',
    name: 'convict',
    unit: 'ns/op',
    lowerIsBetter: true,
    async run() {
      const { yamlFile } = fixture();
      const conf = convictConfig(yamlFile);
      return nsPerOp(() => {
        sink = conf.get(READ_PATH as never);
      }, ITERATIONS);
    },
  },
  {
    group: 'get',
    name: 'node-config',
    unit: 'ns/op',
    lowerIsBetter: true,
    async run() {
      const { dir } = fixture();
      process.env.NODE_CONFIG_DIR = dir;
      process.env.NODE_ENV = 'production';
      const config = require('config') as { get(path: string): unknown };
      return nsPerOp(() => {
        sink = config.get(READ_PATH);
      }, ITERATIONS);
    },
  },
];

const countScript = fileURLToPath(new URL('./count-get.ts', import.meta.url));
const COUNTED = 2_000_000;

// The same reads counted in machine instructions under valgrind (one round: a count barely moves),
// which the shared machine's load cannot blur: (count with 3M reads − count with 1M) / 2M.
const getInstructions: BenchCase[] = (['bare', 'ballast'] as const).map((variant) => ({
  group: 'get-instructions',
  name: variant,
  unit: 'instructions/op',
  lowerIsBetter: true,
  rounds: 1,
  async run() {
    const [few, many] = await Promise.all([
      countInstructions(countScript, [variant, '1000000']),
      countInstructions(countScript, [variant, String(1_000_000 + COUNTED)]),
    ]);
    return (many - few) / COUNTED;
  },
}));

/** Median ms of `runs` loads after `warmup` (libraries imported, files in the page cache). */
async function msPerLoad(load: () => unknown, runs = 60, warmup = 20): Promise<number> {
  for (let i = 0; i < warmup; i++) sink = await load();
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = process.hrtime.bigint();
    sink = await load();
    samples.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  return median(samples);
}

const load: BenchCase[] = [
  {
    group: 'load',
    name: 'ballast',
    reference: false,
    unit: 'ms',
    lowerIsBetter: true,
    async run() {
      const { yamlFile } = fixture();
      return msPerLoad(() => ballastConfig(yamlFile));
    },
  },
  {
    group: 'load',
    name: 'convict',
    reference: true,
    unit: 'ms',
    lowerIsBetter: true,
    async run() {
      const { yamlFile } = fixture();
      return msPerLoad(() => convictConfig(yamlFile));
    },
  },
  {
    group: 'load',
    name: 'node-config',
    unit: 'ms',
    lowerIsBetter: true,
    async run() {
      const { dir } = fixture();
      return msPerLoad(() => nodeConfigLoad(dir));
    },
  },
];

const CHANGES = 120;

/** p99 of `samples`. */
function p99(samples: number[]): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * 0.99) - 1)]!;
}

/** ms from a write at the source to the subscribed listener running, p99 over CHANGES writes. */
async function propagation(
  config: { subscribe(selector: (c: Tree) => unknown, listener: (next: unknown) => void): unknown },
  write: (n: number) => Promise<unknown>,
): Promise<number> {
  let arrived: ((n: number) => void) | undefined;
  config.subscribe(
    (c) => c.s2.g3.k4,
    (n) => arrived?.(n as number),
  );
  const samples: number[] = [];
  for (let n = 1; n <= CHANGES; n++) {
    const seen = new Promise<number>((resolve) => {
      arrived = resolve;
    });
    const start = process.hrtime.bigint();
    await write(n);
    if ((await seen) !== n) throw new Error('a change arrived out of order');
    samples.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  return p99(samples);
}

const propagationCases: BenchCase[] = [
  {
    group: 'propagation',
    name: 'ballast-redis',
    unit: 'ms p99',
    lowerIsBetter: true,
    async run() {
      const server = process.env.REDIS_URL ? undefined : await startRedisServer();
      const url = process.env.REDIS_URL ?? server!.url;
      const writer = new Redis(url);
      const key = `bench-config:${process.pid}`;
      await writer.hset(key, READ_PATH, '0');
      const config = createConfig({ schema, sources: [redisSource({ url, key })] });
      await config.load();
      try {
        return await propagation(config as never, (n) =>
          writer
            .multi()
            .hset(key, READ_PATH, String(n), 'version', String(n))
            .publish(`${key}:changed`, String(n))
            .exec(),
        );
      } finally {
        await config.close();
        await writer.del(key);
        writer.disconnect();
        await server?.stop();
      }
    },
  },
  {
    group: 'propagation',
    name: 'ballast-file',
    unit: 'ms p99',
    lowerIsBetter: true,
    async run() {
      const dir = mkdtempSync(join(tmpdir(), 'ballast-config-bench-'));
      const path = join(dir, 'app.yaml');
      const body = (n: number) => stringify(nest([[READ, n]]));
      writeFileSync(path, body(0));
      const config = createConfig({ schema, sources: [file(path)] }); // default debounce
      await config.load();
      // The watch and its debounce timer do not keep a process alive (a service's server does):
      // this ref'd timer stands in for the server while the bench waits for changes.
      const keepAlive = setInterval(() => {}, 1000);
      try {
        // A synchronous write: the clock measures the change reaching the listener, not the
        // bench's own thread-pool round trips for writing it.
        return await propagation(config as never, async (n) => writeFileSync(path, body(n)));
      } finally {
        clearInterval(keepAlive);
        await config.close();
        rmSync(dir, { recursive: true, force: true });
      }
    },
  },
];

export default defineBench([...get, ...getInstructions, ...load, ...propagationCases]);
