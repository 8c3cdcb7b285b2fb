import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BenchCase, defineBench, median, nsPerOp } from '@ballast/bench';
import { createConfig, defaults, env, file, redisSource } from '@ballast/config';
import { startRedisServer } from '@ballast/test-utils';
import { Redis } from 'ioredis';
import { stringify } from 'yaml';
import { z } from 'zod';

// Each case runs in a process of its own (see bench/src/run.ts). The configuration is the same
// for every variant: 200 leaves `s<i>.g<j>.k<m>` (5 sections × 5 groups × 8 keys) with defaults,
// one YAML file setting 100 of them, and 50 environment variables.

const require = createRequire(import.meta.url);
const SECTIONS = 5;
const GROUPS = 5;
const KEYS = 8;
const ENV_PREFIX = 'BENCH_';
/** The value read by the `get` group: one nested leaf, `a.b.c` in the words. */
const READ = ['s2', 'g3', 'k4'] as const;
const READ_PATH = READ.join('.');

interface Leaf {
  readonly path: readonly [string, string, string];
  readonly kind: 'number' | 'string' | 'boolean';
  readonly fallback: number | string | boolean;
}

const leaves: Leaf[] = [];
for (let s = 0; s < SECTIONS; s++)
  for (let g = 0; g < GROUPS; g++)
    for (let k = 0; k < KEYS; k++) {
      const kind = k % 3 === 0 ? 'string' : k % 3 === 1 ? 'number' : 'boolean';
      const fallback =
        kind === 'string' ? `default-${s}-${g}-${k}` : kind === 'number' ? k * 10 : false;
      leaves.push({ path: [`s${s}`, `g${g}`, `k${k}`], kind, fallback });
    }
const fromFile = leaves.filter((_, i) => i % 2 === 0); // 100 leaves
const fromEnv = leaves.filter((_, i) => i % 4 === 1); // 50 leaves
const envName = (leaf: Leaf) => `${ENV_PREFIX}${leaf.path.join('__').toUpperCase()}`;
const fileValue = (leaf: Leaf) =>
  leaf.kind === 'string' ? `file-${leaf.path.join('-')}` : leaf.kind === 'number' ? 7 : true;
const envValue = (leaf: Leaf) =>
  leaf.kind === 'string' ? `env-${leaf.path.join('-')}` : leaf.kind === 'number' ? '9' : 'true';

function nest(entries: [readonly string[], unknown][]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [path, value] of entries) {
    let node = out;
    for (const key of path.slice(0, -1)) {
      node[key] ??= {};
      node = node[key] as Record<string, unknown>;
    }
    node[path.at(-1)!] = value;
  }
  return out;
}

/** Writes the YAML file (and node-config's files) into a fresh directory; sets the 50 variables. */
function fixture(): { dir: string; yamlFile: string } {
  const dir = mkdtempSync(join(tmpdir(), 'ballast-config-bench-'));
  const yamlFile = join(dir, 'production.yaml');
  writeFileSync(yamlFile, stringify(nest(fromFile.map((l) => [l.path, fileValue(l)]))));
  // node-config: defaults in default.yaml, the same overrides in production.yaml, and env names in
  // custom-environment-variables.yaml (with __format so numbers and booleans are parsed).
  writeFileSync(
    join(dir, 'default.yaml'),
    stringify(nest(leaves.map((l) => [l.path, l.fallback]))),
  );
  writeFileSync(
    join(dir, 'custom-environment-variables.yaml'),
    stringify(
      nest(
        fromEnv.map((l) => [
          l.path,
          l.kind === 'string' ? envName(l) : { __name: envName(l), __format: 'json' },
        ]),
      ),
    ),
  );
  for (const leaf of fromEnv) process.env[envName(leaf)] = envValue(leaf);
  return { dir, yamlFile };
}

// ---- ballast ----

function zodSchema() {
  const shape = (path: string[], depth: number): z.ZodType => {
    if (depth === 3) {
      const leaf = leaves.find((l) => l.path.join('.') === path.join('.'))!;
      const base =
        leaf.kind === 'string' ? z.string() : leaf.kind === 'number' ? z.number() : z.boolean();
      return (base as z.ZodType<unknown>).default(leaf.fallback);
    }
    const count = depth === 0 ? SECTIONS : depth === 1 ? GROUPS : KEYS;
    const prefix = depth === 0 ? 's' : depth === 1 ? 'g' : 'k';
    return z.object(
      Object.fromEntries(
        Array.from({ length: count }, (_, i) => [
          `${prefix}${i}`,
          shape([...path, `${prefix}${i}`], depth + 1),
        ]),
      ),
    );
  };
  return shape([], 0) as z.ZodObject;
}

type Tree = { s2: { g3: { k4: number } } };

// Built once, as an application defines its schema once at module level.
const schema = zodSchema();

async function ballastConfig(yamlFile: string) {
  const config = createConfig({
    schema,
    sources: [defaults(), file(yamlFile), env({ prefix: ENV_PREFIX })],
    watch: false,
  });
  await config.load();
  return config;
}

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
      const frozen = (await ballastConfig(yamlFile)).get(); // the same frozen object, read directly
      const plain = structuredClone(frozen) as unknown as Tree;
      const deepFreeze = (o: object) => {
        Object.freeze(o);
        for (const v of Object.values(o)) if (typeof v === 'object' && v) deepFreeze(v);
      };
      deepFreeze(plain);
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
      try {
        return await propagation(config as never, (n) => writeFile(path, body(n)));
      } finally {
        await config.close();
        rmSync(dir, { recursive: true, force: true });
      }
    },
  },
];

export default defineBench([...get, ...load, ...propagationCases]);
