import { inspect } from 'node:util';
import { ManualClock } from '@ballast/test-utils';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import {
  type AppliedEvent,
  type ConfigInvalidError,
  consulKV,
  createConfig,
  defaults,
  env,
  file,
  InvalidOptionsError,
  isConfigError,
  profiles,
  type RejectedEvent,
  redisSource,
  Secret,
  secret,
  secretsDir,
} from '../src/index.ts';
import { manualSource } from './support/sources.ts';

const schema = z.object({
  port: z.number().int().min(1).max(65535).default(3000),
  db: z.object({
    url: z.string().default('postgres://localhost/shop'),
    poolMax: z.number().int().positive().default(10),
    password: secret(z.string().min(8)).optional(),
  }),
  flags: z.record(z.string(), z.boolean()).default({}),
  breaker: z
    .object({ failureThreshold: z.number().min(0).max(1).default(0.5) })
    .default({ failureThreshold: 0.5 }),
});

const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('layering', () => {
  it('applies sources in order, later wins, deep-merging objects', async () => {
    const a = manualSource('a', { port: 4000, db: { poolMax: 5 } });
    const b = manualSource('b', { db: { poolMax: 20 } });
    const config = createConfig({ schema, sources: [defaults(), a, b] });
    const snapshot = await config.load();
    expect(snapshot).toEqual({
      port: 4000,
      db: { url: 'postgres://localhost/shop', poolMax: 20 },
      flags: {},
      breaker: { failureThreshold: 0.5 },
    });
    expect(config.get()).toBe(snapshot);
    await config.close();
  });

  it('returns a deep-frozen snapshot', async () => {
    const config = createConfig({
      schema,
      sources: [manualSource('a', { flags: { beta: true } })],
    });
    const snapshot = await config.load();
    expect(Object.isFrozen(snapshot)).toBe(true);
    expect(Object.isFrozen(snapshot.db)).toBe(true);
    expect(Object.isFrozen(snapshot.flags)).toBe(true);
    expect(() => {
      (snapshot.db as { poolMax: number }).poolMax = 1;
    }).toThrow(TypeError);
    await config.close();
  });

  it('describe() names the source of every effective value, defaults included', async () => {
    const config = createConfig({
      schema,
      sources: [
        defaults(),
        manualSource('file config/default.yaml', { port: 4000 }),
        env({
          prefix: 'SHOP_',
          env: { SHOP_DB__POOL_MAX: '42', SHOP_DB__PASSWORD: 'correct horse' },
        }),
      ],
    });
    await config.load();
    expect(config.describe()).toEqual([
      { path: 'port', value: 4000, source: 'file config/default.yaml' },
      { path: 'db.url', value: 'postgres://localhost/shop', source: 'defaults' },
      { path: 'db.poolMax', value: 42, source: 'env SHOP_DB__POOL_MAX' },
      { path: 'db.password', value: '[redacted]', source: 'env SHOP_DB__PASSWORD' },
      { path: 'flags', value: {}, source: 'defaults' },
      { path: 'breaker.failureThreshold', value: 0.5, source: 'defaults' },
    ]);
    await config.close();
  });
});

describe('types', () => {
  it('types get() from the schema, deeply read-only, with secrets as Secret', async () => {
    const config = createConfig({ schema, sources: [] });
    const snapshot = await config.load();
    expectTypeOf(snapshot.port).toEqualTypeOf<number>();
    expectTypeOf(snapshot.db.password).toEqualTypeOf<Secret<string> | undefined>();
    expectTypeOf(snapshot.flags).toEqualTypeOf<{ readonly [x: string]: boolean }>();
    expectTypeOf(config.get).returns.toEqualTypeOf<typeof snapshot>();
    expect(() => {
      // @ts-expect-error: the snapshot is read-only, for the compiler too
      snapshot.db.poolMax = 1;
    }).toThrow(TypeError);
  });
});

describe('load()', () => {
  it('reports every invalid value at once, with its source', async () => {
    const config = createConfig({
      schema,
      sources: [
        manualSource('file config/app.yaml', { port: 70000 }),
        env({ prefix: 'SHOP_', env: { SHOP_DB__POOL_MAX: 'many', SHOP_DB__PASSWORD: 'short' } }),
      ],
    });
    const error = await config.load().catch((e: unknown) => e);
    expect(isConfigError(error, 'CONFIG_INVALID')).toBe(true);
    const issues = (error as ConfigInvalidError).issues;
    expect(issues.map((i) => [i.path, i.source, i.value])).toEqual([
      ['port', 'file config/app.yaml', 70000],
      ['db.poolMax', 'env SHOP_DB__POOL_MAX', 'many'],
      ['db.password', 'env SHOP_DB__PASSWORD', '[redacted]'],
    ]);
    expect((error as Error).message).toContain('SHOP_DB__POOL_MAX');
    expect((error as Error).message).not.toContain('short');
    expect(() => config.get()).toThrow(/before load/);
  });

  it('says when a required value is set by no source', async () => {
    const config = createConfig({ schema: z.object({ apiKey: z.string() }), sources: [] });
    const error = (await config.load().catch((e: unknown) => e)) as ConfigInvalidError;
    expect(error.issues).toEqual([
      expect.objectContaining({
        path: 'apiKey',
        source: '(not set by any source)',
        value: undefined,
      }),
    ]);
  });

  it('fails fast, listing every required source that failed; optional sources may fail', async () => {
    const a = manualSource('redis shop:config');
    a.failing = new Error('connect ECONNREFUSED 127.0.0.1:6390');
    const b = manualSource('consul shop/config');
    b.failing = new Error('connect ECONNREFUSED 127.0.0.1:8500');
    const c = manualSource('file config/local.yaml', {}, { optional: true });
    c.failing = new Error('EACCES');
    const config = createConfig({ schema, sources: [a, b, c] });
    const error = await config.load().catch((e: unknown) => e);
    expect(isConfigError(error, 'CONFIG_SOURCE_FAILED')).toBe(true);
    if (!isConfigError(error, 'CONFIG_SOURCE_FAILED')) return;
    expect(error.failures.map((f) => f.source)).toEqual([
      'redis shop:config',
      'consul shop/config',
    ]);
    expect(error.message).toContain('ECONNREFUSED 127.0.0.1:6390');

    const tolerant = createConfig({ schema, sources: [manualSource('a', { port: 1 }), c] });
    const errors: string[] = [];
    tolerant.onSourceError((e) => errors.push(e.source));
    await tolerant.load();
    expect(tolerant.get().port).toBe(1);
    expect(errors).toEqual(['file config/local.yaml']);
    expect(tolerant.status().sources[1]).toMatchObject({
      state: 'failed',
      error: 'EACCES',
      optional: true,
    });
    await tolerant.close();
  });
});

describe('hot reload', () => {
  it('validates a change before applying it: a bad push is rejected with every error, the last good stays', async () => {
    const remote = manualSource('redis shop:config', { port: 4000, db: { poolMax: 10 } });
    const config = createConfig({ schema, sources: [remote] });
    await config.load();
    const good = config.get();
    const rejectedEvents: RejectedEvent[] = [];
    config.onRejected((e) => rejectedEvents.push(e));
    remote.values = { port: -1, db: { poolMax: 0, password: 'tiny' } };
    remote.change();
    await flush();
    expect(config.get()).toBe(good);
    expect(config.status().version).toBe(1);
    expect(rejectedEvents).toHaveLength(1);
    const [event] = rejectedEvents;
    expect(event?.trigger).toBe('redis shop:config');
    expect(event?.issues.map((i) => i.path)).toEqual(['port', 'db.poolMax', 'db.password']);
    expect(JSON.stringify(event?.issues)).not.toContain('tiny');
    expect(config.status().lastRejected).toBe(event);

    remote.values = { port: 4001, db: { poolMax: 12 } };
    remote.change();
    await flush();
    expect(config.get().port).toBe(4001);
    expect(config.status()).toMatchObject({ version: 2, lastRejected: undefined });
    await config.close();
  });

  it('keeps the last good values when a watched source fails, and reports it', async () => {
    const remote = manualSource('consul shop/config', { port: 4000 });
    const config = createConfig({ schema, sources: [remote] });
    await config.load();
    remote.failing = new Error('Consul is down');
    remote.change();
    await flush();
    expect(config.get().port).toBe(4000);
    expect(config.status().sources[0]).toMatchObject({ state: 'failed', error: 'Consul is down' });
    remote.failing = undefined;
    remote.values = { port: 4002 };
    remote.change();
    await flush();
    expect(config.get().port).toBe(4002);
    expect(config.status().sources[0]?.state).toBe('ok');
    await config.close();
  });

  it('applies values a source pushes with its change without reading it again', async () => {
    const remote = manualSource('consul shop/config', { port: 4000 });
    const config = createConfig({ schema, sources: [remote] });
    await config.load();
    remote.change({ values: { port: 4100 }, label: '77' });
    await flush();
    expect(remote.loads).toBe(1);
    expect(config.get().port).toBe(4100);
    expect(config.history().at(-1)?.sources).toEqual({ 'consul shop/config': '77' });
    await config.close();
  });

  it('debounces a source that changes in pieces, and applies within maxWaitMs under a stream of changes', async () => {
    const clock = new ManualClock();
    const files = manualSource(
      'file config/app.yaml',
      { port: 1 },
      { debounceMs: 100, maxWaitMs: 300 },
    );
    const config = createConfig({ schema, sources: [files], clock });
    await config.load();
    files.values = { port: 2, db: { poolMax: 'half-written' } }; // first part of a write
    files.change();
    await clock.advanceAsync(50);
    files.values = { port: 2, db: { poolMax: 7 } }; // the rest, 50 ms later
    files.change();
    await clock.advanceAsync(99);
    expect(files.loads).toBe(1);
    await clock.advanceAsync(1);
    expect(files.loads).toBe(2);
    expect(config.get().db.poolMax).toBe(7);
    expect(config.status().lastRejected).toBeUndefined();

    // A change every 50 ms never goes quiet for 100 ms: maxWaitMs forces a read after 300 ms.
    for (let i = 0; i < 10; i++) {
      files.values = { port: 10 + i };
      files.change();
      await clock.advanceAsync(50);
    }
    expect(files.loads).toBeGreaterThanOrEqual(3);
    await clock.advanceAsync(100);
    expect(config.get().port).toBe(19);
    await config.close();
  });

  it('calls subscribers only when their selection changed, with old and new values', async () => {
    const remote = manualSource('r', { port: 1, flags: { beta: false } });
    const config = createConfig({ schema, sources: [remote] });
    const ports: [number, number][] = [];
    const flags: [unknown, unknown][] = [];
    config.subscribe(
      (c) => c.port,
      (next, previous) => ports.push([next, previous]),
    );
    await config.load();
    config.subscribe(
      (c) => c.flags,
      (next, previous) => flags.push([next, previous]),
    );
    remote.values = { port: 1, flags: { beta: true } };
    remote.change();
    await flush();
    remote.values = { port: 2, flags: { beta: true } };
    remote.change();
    await flush();
    expect(ports).toEqual([[2, 1]]);
    expect(flags).toEqual([[{ beta: true }, { beta: false }]]);
    await config.close();
  });

  it('skips a change that leaves the effective configuration as it is', async () => {
    const remote = manualSource('r', { port: 1 });
    const config = createConfig({ schema, sources: [remote] });
    await config.load();
    const events: AppliedEvent[] = [];
    config.onApplied((e) => events.push(e));
    remote.label = 'v2';
    remote.change();
    await flush();
    expect(events).toEqual([]);
    expect(config.status().version).toBe(1);
    await config.close();
  });
});

describe('versions and rollback', () => {
  it('numbers applied snapshots, records what changed, rolls back and pins until the next change', async () => {
    const clock = new ManualClock(1_000);
    const remote = manualSource('r', { port: 1 });
    remote.label = 'a';
    const config = createConfig({ schema, sources: [remote], clock, historySize: 3 });
    await config.load();
    for (const [port, label] of [
      [2, 'b'],
      [3, 'c'],
      [4, 'd'],
    ] as const) {
      remote.values = { port };
      remote.label = label;
      remote.change();
      await flush();
    }
    expect(config.history().map((h) => [h.version, h.sources.r, h.changedPaths])).toEqual([
      [2, 'b', ['port']],
      [3, 'c', ['port']],
      [4, 'd', ['port']],
    ]);
    const entry = config.rollback(2);
    expect(entry).toMatchObject({
      version: 5,
      reason: 'rollback',
      restoredVersion: 2,
      sources: { r: 'b' },
    });
    expect(config.get().port).toBe(2);
    expect(config.status().pinned).toBe(true);
    expect(() => config.rollback(1)).toThrow(/not in history/);

    remote.values = { port: 9 };
    remote.change();
    await flush();
    expect(config.get().port).toBe(9);
    expect(config.status()).toMatchObject({ pinned: false, version: 6 });
  });

  it('unpin() returns to what the sources say', async () => {
    const remote = manualSource('r', { port: 1 });
    const config = createConfig({ schema, sources: [remote] });
    await config.load();
    remote.values = { port: 2 };
    remote.change();
    await flush();
    config.rollback(1);
    expect(config.get().port).toBe(1);
    config.unpin();
    expect(config.get().port).toBe(2);
    expect(config.history().map((h) => h.reason)).toEqual(['load', 'change', 'rollback', 'unpin']);
    await config.close();
  });
});

describe('secrets', () => {
  it('never shows a secret in describe(), errors, events, JSON or inspect output', async () => {
    const password = 'pa55word-very-secret';
    const remote = manualSource('r', { db: { password } });
    const config = createConfig({ schema, sources: [remote] });
    const snapshot = await config.load();
    const value = snapshot.db.password;
    expect(value).toBeInstanceOf(Secret);
    expect(value?.reveal()).toBe(password);
    const outputs: string[] = [
      JSON.stringify(snapshot),
      inspect(snapshot, { depth: 10 }),
      String(value),
      `${value}`,
      JSON.stringify(config.describe()),
    ];
    const events: unknown[] = [];
    config.onApplied((e) => events.push(e));
    config.onRejected((e) => events.push(e));
    remote.values = { db: { password: `${password}!` }, port: 'bad' };
    remote.change();
    await flush();
    remote.values = { db: { password: `${password}?` } };
    remote.change();
    await flush();
    expect(events).toHaveLength(2);
    outputs.push(
      inspect(events, { depth: 10 }),
      JSON.stringify(events),
      (events[0] as RejectedEvent).error.message,
    );
    outputs.push(inspect(config.history(), { depth: 10 }), inspect(config.status(), { depth: 10 }));
    for (const output of outputs) expect(output).not.toContain('pa55word');
    await config.close();
  });

  it('redacts every value of a sensitive source, even where the schema has no secret()', async () => {
    const mounted = manualSource(
      'secrets /run/secrets',
      { port: 'not-a-port' },
      { sensitive: true },
    );
    const error = await createConfig({ schema, sources: [mounted] })
      .load()
      .catch((e: unknown) => e);
    expect((error as ConfigInvalidError).issues[0]).toMatchObject({
      path: 'port',
      value: '[redacted]',
    });
    expect((error as Error).message).not.toContain('not-a-port');
  });
});

describe('options and lifecycle', () => {
  it('rejects bad options with INVALID_OPTIONS naming the option', () => {
    const attempt = (options: unknown) => {
      try {
        createConfig(options as never);
      } catch (error) {
        return error;
      }
      return undefined;
    };
    const cases: [unknown, string][] = [
      [{ schema: {}, sources: [] }, 'schema'],
      [{ schema, sources: [{}] }, 'sources.0'],
      [{ schema, sources: [], historySize: 0 }, 'historySize'],
      [{ schema, sources: [manualSource('x'), manualSource('x')] }, 'sources.1'],
    ];
    for (const [options, option] of cases) {
      const error = attempt(options);
      if (!isConfigError(error, 'INVALID_OPTIONS')) return expect.unreachable(option);
      expectTypeOf(error).toEqualTypeOf<InvalidOptionsError>();
      expect(error).toBeInstanceOf(InvalidOptionsError);
      expect(error.option).toBe(option);
    }
  });

  it('rejects a listener or selector that is not a function', async () => {
    const config = createConfig({ schema, sources: [] });
    for (const call of [
      () => config.onApplied('log' as never),
      () => config.subscribe('port' as never, () => {}),
      () => config.subscribe((c) => c.port, null as never),
    ]) {
      expect(call).toThrow(expect.objectContaining({ code: 'INVALID_OPTIONS' }));
    }
  });

  it('rejects bad source options with INVALID_OPTIONS naming the option', () => {
    const cases: [() => unknown, string][] = [
      [() => file(''), 'path'],
      [() => file('a.yaml', { format: 'toml' as never }), 'format'],
      [() => env({ prefx: 'SHOP_' } as never), 'prefx'],
      [() => profiles({ extensions: [] }), 'extensions'],
      [() => secretsDir('/run/secrets', { debounceMs: -1 }), 'debounceMs'],
      [() => redisSource({ key: 'k' }), 'client'],
      [() => redisSource({ key: '', url: 'redis://127.0.0.1' }), 'key'],
      [() => consulKV({ prefix: 'shop', port: 0 }), 'port'],
      [() => consulKV({ prefix: 'shop', waitMs: 3_600_000 }), 'waitMs'],
    ];
    for (const [create, option] of cases) {
      let error: unknown;
      try {
        create();
      } catch (e) {
        error = e;
      }
      if (!isConfigError(error, 'INVALID_OPTIONS')) return expect.unreachable(option);
      expect(error.option).toBe(option);
    }
  });

  it('close() is idempotent, stops watching and works with await using', async () => {
    const remote = manualSource('r', { port: 1 });
    let closes = 0;
    remote.close = () => {
      closes++;
    };
    {
      await using config = createConfig({ schema, sources: [remote] });
      await config.load();
      expect(config.status().sources[0]?.watching).toBe(true);
      await Promise.all([config.close(), config.close()]);
      remote.values = { port: 2 };
      remote.change();
      await flush();
      expect(config.get().port).toBe(1);
      expect(config.status().sources[0]?.watching).toBe(false);
    }
    expect(closes).toBe(1);
  });

  it('reload() reads every source again', async () => {
    const remote = manualSource('r', { port: 1 });
    const config = createConfig({ schema, sources: [remote], watch: false });
    await config.load();
    remote.values = { port: 2 };
    expect(await config.reload()).toBe(2);
    expect(config.get().port).toBe(2);
    expect(config.history().at(-1)?.reason).toBe('reload');
    await config.close();
  });
});
