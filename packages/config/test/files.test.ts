import { mkdir, rename, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  type AppliedEvent,
  createConfig,
  defaults,
  env,
  file,
  isConfigError,
  profiles,
  type RejectedEvent,
  secret,
  secretsDir,
} from '../src/index.ts';
import { next, tempDir } from './support/temp.ts';

const schema = z.object({
  port: z.number().int().default(3000),
  host: z.string().default('127.0.0.1'),
  db: z.object({
    url: z.string().default('postgres://localhost/shop'),
    poolMax: z.number().int().positive().default(10),
    password: secret(z.string()).optional(),
  }),
  features: z.array(z.string()).default([]),
  flags: z.record(z.string(), z.boolean()).default({}),
});

describe('file()', () => {
  it('reads YAML and JSON, labels them with a content hash, and fails fast when a required file is missing', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'app.yaml'), 'port: 8080\ndb:\n  poolMax: 20\n');
    await writeFile(join(dir, 'override.json'), JSON.stringify({ db: { poolMax: 30 } }));
    const config = createConfig({
      schema,
      sources: [file(join(dir, 'app.yaml')), file(join(dir, 'override.json'))],
      watch: false,
    });
    expect(await config.load()).toMatchObject({ port: 8080, db: { poolMax: 30 } });
    expect(config.status().sources.map((s) => s.label)).toEqual([
      expect.stringMatching(/^[0-9a-f]{12}$/),
      expect.stringMatching(/^[0-9a-f]{12}$/),
    ]);
    expect(config.describe().find((e) => e.path === 'db.poolMax')?.source).toBe(
      `file ${join(dir, 'override.json')}`,
    );

    const missing = createConfig({ schema, sources: [file(join(dir, 'nope.yaml'))] });
    const error = await missing.load().catch((e: unknown) => e);
    expect(isConfigError(error, 'CONFIG_SOURCE_FAILED')).toBe(true);
    expect((error as Error).message).toMatch(/nope\.yaml not found.*optional: true/);
    const optional = createConfig({
      schema,
      sources: [file(join(dir, 'nope.yaml'), { optional: true })],
    });
    expect((await optional.load()).port).toBe(3000);
  });

  it('reports malformed and hostile documents as source failures naming the file', async () => {
    const dir = await tempDir();
    const cases: [string, string, RegExp][] = [
      ['broken.yaml', 'port: [8080\n', /broken\.yaml is not valid YAML/],
      ['broken.json', '{"port": 80', /broken\.json is not valid JSON/],
      ['list.yaml', '- a\n- b\n', /must hold an object/],
      ['dup.yaml', 'port: 1\nport: 2\n', /not valid YAML/],
    ];
    for (const [name, text, message] of cases) {
      await writeFile(join(dir, name), text);
      const error = await createConfig({ schema, sources: [file(join(dir, name))] })
        .load()
        .catch((e: unknown) => e);
      expect(isConfigError(error, 'CONFIG_SOURCE_FAILED'), name).toBe(true);
      expect((error as Error).message).toMatch(message);
    }
    await writeFile(join(dir, 'proto.json'), '{"__proto__": {"polluted": true}, "port": 81}');
    const config = createConfig({ schema, sources: [file(join(dir, 'proto.json'))] });
    expect((await config.load()).port).toBe(81);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('reloads when the file is rewritten in place or replaced by a rename (editors, atomic writes)', async () => {
    const dir = await tempDir();
    const path = join(dir, 'app.yaml');
    await writeFile(path, 'port: 1\n');
    await using config = createConfig({ schema, sources: [file(path, { debounceMs: 20 })] });
    await config.load();

    let applied = next<AppliedEvent>((l) => config.onApplied(l));
    await writeFile(path, 'port: 2\n');
    expect((await applied).changedPaths).toEqual(['port']);
    expect(config.get().port).toBe(2);

    applied = next<AppliedEvent>((l) => config.onApplied(l));
    await writeFile(join(dir, '.app.yaml.tmp'), 'port: 3\n');
    await rename(join(dir, '.app.yaml.tmp'), path);
    await applied;
    expect(config.get().port).toBe(3);

    // And again: the watch survives the rename.
    applied = next<AppliedEvent>((l) => config.onApplied(l));
    await writeFile(path, 'port: 4\n');
    await applied;
    expect(config.get().port).toBe(4);
    expect(config.history().map((h) => h.version)).toEqual([1, 2, 3, 4]);
  });

  it('never applies a file written in two parts 50 ms apart half-written (default debounce)', async () => {
    const dir = await tempDir();
    const path = join(dir, 'app.yaml');
    await writeFile(path, 'port: 1\ndb:\n  poolMax: 5\n');
    await using config = createConfig({ schema, sources: [file(path)] });
    await config.load();
    const seen: unknown[] = [];
    config.onApplied(() => seen.push(config.get()));
    config.onRejected((e) => seen.push(e));
    config.onSourceError((e) => seen.push(e));
    const applied = next<AppliedEvent>((l) => config.onApplied(l));
    await writeFile(path, 'port: 2\ndb:\n  poolMax: ');
    await new Promise((resolve) => setTimeout(resolve, 50)); // the writer's pause, part of the scenario
    await writeFile(path, 'port: 2\ndb:\n  poolMax: 7\n');
    await applied;
    expect(seen).toEqual([
      expect.objectContaining({ port: 2, db: expect.objectContaining({ poolMax: 7 }) }),
    ]);
  });

  it('rejects an invalid edit, keeps the last good snapshot and names the file in every issue', async () => {
    const dir = await tempDir();
    const path = join(dir, 'app.yaml');
    await writeFile(path, 'port: 1\n');
    await using config = createConfig({ schema, sources: [file(path, { debounceMs: 10 })] });
    await config.load();
    const rejected = next<RejectedEvent>((l) => config.onRejected(l));
    await writeFile(path, 'port: high\ndb:\n  poolMax: -1\n');
    const event = await rejected;
    expect(event.issues.map((i) => [i.path, i.source, i.value])).toEqual([
      ['port', `file ${path}`, 'high'],
      ['db.poolMax', `file ${path}`, -1],
    ]);
    expect(config.get().port).toBe(1);
  });
});

describe('Kubernetes mounts', () => {
  /** Lays out a ConfigMap/Secret volume as the kubelet does: `..data` → a timestamped folder, one symlink per key. */
  async function mount(dir: string, files: Record<string, string>, generation: number) {
    const data = `..2026_12_04_${generation}`;
    await mkdir(join(dir, data));
    for (const [name, content] of Object.entries(files))
      await writeFile(join(dir, data, name), content);
    // The kubelet's atomic update: a new ..data_tmp link renamed over ..data.
    await symlink(data, join(dir, '..data_tmp'));
    await rename(join(dir, '..data_tmp'), join(dir, '..data'));
    for (const name of Object.keys(files))
      await symlink(join('..data', name), join(dir, name)).catch((error: NodeJS.ErrnoException) => {
        if (error.code !== 'EEXIST') throw error;
      });
  }

  it('reloads a ConfigMap file and a Secret when the kubelet swaps ..data', async () => {
    const configMap = await tempDir();
    const secrets = await tempDir();
    await mount(configMap, { 'app.yaml': 'port: 1\n' }, 1);
    await mount(secrets, { 'db.password': 'first-password' }, 1);
    await using config = createConfig({
      schema,
      sources: [
        file(join(configMap, 'app.yaml'), { debounceMs: 20 }),
        secretsDir(secrets, { debounceMs: 20 }),
      ],
    });
    await config.load();
    expect(config.get().port).toBe(1);

    let applied = next<AppliedEvent>((l) => config.onApplied(l));
    await mount(configMap, { 'app.yaml': 'port: 2\n' }, 2);
    expect((await applied).changedPaths).toEqual(['port']);
    expect(config.get().port).toBe(2);

    applied = next<AppliedEvent>((l) => config.onApplied(l));
    await mount(secrets, { 'db.password': 'second-password' }, 2);
    expect((await applied).changedPaths).toEqual(['db.password']);
    expect(config.get().db.password?.reveal()).toBe('second-password');
  });
});

describe('profiles()', () => {
  it('layers default, the profile and local files in the node-config order', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'default.yaml'), 'port: 1\nhost: default\ndb:\n  poolMax: 1\n');
    await writeFile(join(dir, 'production.json'), JSON.stringify({ port: 2, db: { poolMax: 2 } }));
    await writeFile(join(dir, 'local.yml'), 'port: 3\n');
    await writeFile(join(dir, 'staging.yaml'), 'port: 99\n');
    const config = createConfig({
      schema,
      sources: [defaults(), ...profiles({ dir, profile: 'production' })],
      watch: false,
    });
    expect(await config.load()).toMatchObject({ port: 3, host: 'default', db: { poolMax: 2 } });
    expect(config.status().sources.map((s) => s.name)).toEqual([
      'defaults',
      `file ${join(dir, 'default.{yaml,yml,json}')}`,
      `file ${join(dir, 'production.{yaml,yml,json}')}`,
      `file ${join(dir, 'local.{yaml,yml,json}')}`,
      `file ${join(dir, 'local-production.{yaml,yml,json}')}`,
    ]);
    expect(config.describe().find((e) => e.path === 'db.poolMax')?.source).toBe(
      `file ${join(dir, 'production.json')}`,
    );
  });

  it('takes the profile from NODE_ENV, comma-separated for several', () => {
    const saved = process.env.NODE_ENV;
    process.env.NODE_ENV = 'production,eu';
    try {
      expect(profiles({ dir: 'c', extensions: ['yaml'], local: false }).map((s) => s.name)).toEqual(
        [
          `file ${join('c', 'default.yaml')}`,
          `file ${join('c', 'production.yaml')}`,
          `file ${join('c', 'eu.yaml')}`,
        ],
      );
    } finally {
      process.env.NODE_ENV = saved;
    }
  });
});

describe('env()', () => {
  it('maps prefixed names to schema paths and coerces to the schema types', async () => {
    const config = createConfig({
      schema,
      sources: [
        env({
          prefix: 'SHOP_',
          env: {
            SHOP_PORT: '8080',
            SHOP_DB__POOL_MAX: '20',
            SHOP_DB_URL: 'postgres://db/shop',
            SHOP_FEATURES: 'search, reviews',
            SHOP_FLAGS__NEW_CHECKOUT: 'on',
            SHOP_FLAGS__DARK_MODE: 'false',
            OTHER_PORT: '1',
          },
        }),
      ],
    });
    expect(await config.load()).toMatchObject({
      port: 8080,
      db: { poolMax: 20, url: 'postgres://db/shop' },
      features: ['search', 'reviews'],
      flags: { newCheckout: true, darkMode: false },
    });
    expect(config.describe().find((e) => e.path === 'db.url')?.source).toBe('env SHOP_DB_URL');
  });

  it('reads lists and objects as JSON, and leaves unconvertible strings for the schema to reject', async () => {
    const error = await createConfig({
      schema,
      sources: [
        env({
          prefix: 'S_',
          env: { S_FEATURES: '["a","b"]', S_PORT: '80x', S_FLAGS: '{"x":true}' },
        }),
      ],
    })
      .load()
      .catch((e: unknown) => e);
    expect(isConfigError(error, 'CONFIG_INVALID') && error.issues).toEqual([
      { path: 'port', message: expect.any(String), source: 'env S_PORT', value: '80x' },
    ]);
  });

  it('reads a .env file that never overrides the real environment, and never modifies it', async () => {
    const dir = await tempDir();
    const path = join(dir, '.env');
    await writeFile(
      path,
      [
        '# local development',
        'SHOP_PORT=9000',
        'export SHOP_HOST = localhost # inline comment',
        `SHOP_DB__PASSWORD='s3cret # not a comment'`,
        'SHOP_DB__URL="postgres://x/\\nshop"',
      ].join('\n'),
    );
    const real = { SHOP_PORT: '7000' };
    const config = createConfig({
      schema,
      sources: [env({ prefix: 'SHOP_', dotenv: path, env: real })],
    });
    const snapshot = await config.load();
    expect(snapshot.port).toBe(7000);
    expect(snapshot.host).toBe('localhost');
    expect(snapshot.db.password?.reveal()).toBe('s3cret # not a comment');
    expect(snapshot.db.url).toBe('postgres://x/\nshop');
    expect(real).toEqual({ SHOP_PORT: '7000' });
    expect(process.env.SHOP_HOST).toBeUndefined();
    expect(config.describe().find((e) => e.path === 'host')?.source).toBe(`${path} SHOP_HOST`);
  });

  it('without a prefix reads only names of top-level keys', async () => {
    const config = createConfig({
      schema,
      sources: [env({ env: { PORT: '81', HOME: '/root', PATH: '/bin' } })],
    });
    expect(await config.load()).toMatchObject({ port: 81 });
    expect(config.describe().map((e) => e.path)).not.toContain('home');
  });
});

describe('secretsDir()', () => {
  it('reads one file per value, Kubernetes-style symlinks included, and redacts them everywhere', async () => {
    const dir = await tempDir();
    const data = join(dir, '..2026_12_04');
    await mkdir(data);
    await writeFile(join(data, 'db.password'), 'hunter2-long\n');
    await writeFile(join(data, 'DB__POOL_MAX'), '25');
    await symlink('..2026_12_04', join(dir, '..data'));
    await symlink(join('..data', 'db.password'), join(dir, 'db.password'));
    await symlink(join('..data', 'DB__POOL_MAX'), join(dir, 'DB__POOL_MAX'));
    const config = createConfig({ schema, sources: [secretsDir(dir)], watch: false });
    const snapshot = await config.load();
    expect(snapshot.db.password?.reveal()).toBe('hunter2-long');
    expect(snapshot.db.poolMax).toBe(25);
    expect(config.describe().filter((e) => e.path.startsWith('db.p'))).toEqual([
      {
        path: 'db.poolMax',
        value: '[redacted]',
        source: `secret file ${join(dir, 'DB__POOL_MAX')}`,
      },
      {
        path: 'db.password',
        value: '[redacted]',
        source: `secret file ${join(dir, 'db.password')}`,
      },
    ]);
  });

  it('fails fast when the directory is missing, unless optional', async () => {
    const dir = await tempDir();
    const error = await createConfig({ schema, sources: [secretsDir(join(dir, 'none'))] })
      .load()
      .catch((e: unknown) => e);
    expect(isConfigError(error, 'CONFIG_SOURCE_FAILED')).toBe(true);
    await expect(
      createConfig({ schema, sources: [secretsDir(join(dir, 'none'), { optional: true })] }).load(),
    ).resolves.toMatchObject({ port: 3000 });
  });
});
