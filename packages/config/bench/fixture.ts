// The configuration every variant loads: 200 leaves `s<i>.g<j>.k<m>` (5 sections × 5 groups × 8
// keys) with defaults, one YAML file setting 100 of them, and 50 environment variables.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createConfig, defaults, env, file } from '@ballast/config';
import { stringify } from 'yaml';
import { z } from 'zod';

const SECTIONS = 5;
const GROUPS = 5;
const KEYS = 8;
export const ENV_PREFIX = 'BENCH_';
/** The value read by the `get` group: one nested leaf, `a.b.c` in the words. */
export const READ = ['s2', 'g3', 'k4'] as const;
export const READ_PATH = READ.join('.');

export interface Leaf {
  readonly path: readonly [string, string, string];
  readonly kind: 'number' | 'string' | 'boolean';
  readonly fallback: number | string | boolean;
}

export const leaves: Leaf[] = [];
for (let s = 0; s < SECTIONS; s++)
  for (let g = 0; g < GROUPS; g++)
    for (let k = 0; k < KEYS; k++) {
      const kind = k % 3 === 0 ? 'string' : k % 3 === 1 ? 'number' : 'boolean';
      const fallback =
        kind === 'string' ? `default-${s}-${g}-${k}` : kind === 'number' ? k * 10 : false;
      leaves.push({ path: [`s${s}`, `g${g}`, `k${k}`], kind, fallback });
    }
export const fromFile = leaves.filter((_, i) => i % 2 === 0); // 100 leaves
export const fromEnv = leaves.filter((_, i) => i % 4 === 1); // 50 leaves
export const envName = (leaf: Leaf) => `${ENV_PREFIX}${leaf.path.join('__').toUpperCase()}`;
const fileValue = (leaf: Leaf) =>
  leaf.kind === 'string' ? `file-${leaf.path.join('-')}` : leaf.kind === 'number' ? 7 : true;
const envValue = (leaf: Leaf) =>
  leaf.kind === 'string' ? `env-${leaf.path.join('-')}` : leaf.kind === 'number' ? '9' : 'true';

export function nest(entries: [readonly string[], unknown][]): Record<string, unknown> {
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
export function fixture(): { dir: string; yamlFile: string } {
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

export type Tree = { s2: { g3: { k4: number } } };

// Built once, as an application defines its schema once at module level.
export const schema = zodSchema();

export async function ballastConfig(yamlFile: string) {
  const config = createConfig({
    schema,
    sources: [defaults(), file(yamlFile), env({ prefix: ENV_PREFIX })],
    watch: false,
  });
  await config.load();
  return config;
}
