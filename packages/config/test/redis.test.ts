import { randomUUID } from 'node:crypto';
import { startRedisServer } from '@ballast/test-utils';
import type {} from '@ballast/test-utils/global-setup';
import { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import { z } from 'zod';
import {
  type AppliedEvent,
  createConfig,
  isConfigError,
  type RejectedEvent,
  redisSource,
  type SourceErrorEvent,
  secret,
} from '../src/index.ts';
import { next } from './support/temp.ts';

const schema = z.object({
  port: z.number().int().default(3000),
  db: z.object({
    poolMax: z.number().int().positive().default(10),
    password: secret(z.string()).optional(),
  }),
  flags: z.record(z.string(), z.boolean()).default({}),
});

let admin: Redis;
let key: string;
beforeEach(() => {
  admin = new Redis(inject('redisUrl'), { maxRetriesPerRequest: 1 });
  key = `config-test:${randomUUID()}`;
});
afterEach(() => {
  admin.disconnect();
});

/** How writers change the configuration: one MULTI with the write and the notification. */
async function publishHash(fields: Record<string, string>) {
  await admin
    .multi()
    .del(key)
    .hset(key, fields)
    .publish(`${key}:changed`, fields.version ?? '')
    .exec();
}

describe('redisSource()', () => {
  it('reads a hash of dotted paths, coerced, with its version field as the label', async () => {
    await admin.hset(key, { port: '8080', 'db.poolMax': '20', 'flags.beta': 'true', version: '7' });
    await using config = createConfig({
      schema,
      sources: [redisSource({ url: inject('redisUrl'), key })],
    });
    expect(await config.load()).toEqual({ port: 8080, db: { poolMax: 20 }, flags: { beta: true } });
    expect(config.status().sources[0]).toMatchObject({
      name: `redis ${key}`,
      label: '7',
      watching: true,
    });
    expect(config.describe()[1]).toEqual({
      path: 'db.poolMax',
      value: 20,
      source: `redis ${key} field db.poolMax`,
    });
  });

  it('reads a JSON document', async () => {
    await admin.set(key, JSON.stringify({ port: 81, db: { poolMax: 3 }, version: 'v3' }));
    const client = new Redis(inject('redisUrl'));
    await using config = createConfig({ schema, sources: [redisSource({ client, key })] });
    expect(await config.load()).toMatchObject({ port: 81, db: { poolMax: 3 } });
    expect(config.status().sources[0]?.label).toBe('v3');
    await config.close();
    expect(client.status).toBe('ready'); // a client passed in is the caller's to close
    client.disconnect();
  });

  it('applies a published change at once, and calls subscribers of the changed part only', async () => {
    await admin.hset(key, { port: '1', 'flags.beta': 'false', version: '1' });
    await using config = createConfig({
      schema,
      sources: [redisSource({ url: inject('redisUrl'), key })],
    });
    await config.load();
    const ports: number[] = [];
    const flags: unknown[] = [];
    config.subscribe(
      (c) => c.port,
      (port) => ports.push(port),
    );
    config.subscribe(
      (c) => c.flags,
      (value, previous) => flags.push([value, previous]),
    );
    const applied = next<AppliedEvent>((l) => config.onApplied(l));
    await publishHash({ port: '1', 'flags.beta': 'true', version: '2' });
    expect(await applied).toMatchObject({
      version: 2,
      trigger: `redis ${key}`,
      changedPaths: ['flags.beta'],
    });
    expect(config.history().at(-1)?.sources).toEqual({ [`redis ${key}`]: '2' });
    expect(ports).toEqual([]);
    expect(flags).toEqual([[{ beta: true }, { beta: false }]]);
  });

  it('rejects a bad push with every error, keeps the last good values and never leaks a secret', async () => {
    await admin.hset(key, { port: '1', 'db.password': 'first-secret-value' });
    await using config = createConfig({
      schema,
      sources: [redisSource({ url: inject('redisUrl'), key })],
    });
    await config.load();
    const rejected = next<RejectedEvent>((l) => config.onRejected(l));
    await publishHash({ port: 'eighty', 'db.poolMax': '-2', 'db.password': 'second-secret-value' });
    const event = await rejected;
    expect(event.issues.map((i) => [i.path, i.source])).toEqual([
      ['port', `redis ${key} field port`],
      ['db.poolMax', `redis ${key} field db.poolMax`],
    ]);
    expect(config.get().port).toBe(1);
    expect(config.get().db.password?.reveal()).toBe('first-secret-value');
    expect(JSON.stringify(event) + event.error.message).not.toContain('secret-value');
  });

  it('reads again after its subscription reconnects, so a change missed meanwhile is applied', async () => {
    await admin.hset(key, { port: '1' });
    // A connection name of its own, so that only this test's subscriber is disconnected below.
    const name = `config-test-${randomUUID()}`;
    const client = new Redis(inject('redisUrl'), { connectionName: name });
    await using config = createConfig({ schema, sources: [redisSource({ client, key })] });
    await config.load();
    const applied = next<AppliedEvent>((l) => config.onApplied(l));
    // A write whose notification is lost: nothing published, and the subscriber's connection dropped.
    await admin.hset(key, { port: '2' });
    const clients = (await admin.client('LIST')) as string;
    const subscriber = clients
      .split('\n')
      .find((line) => line.includes(`name=${name}`) && / sub=[1-9]/.test(line));
    const id = subscriber?.match(/\bid=(\d+)/)?.[1];
    expect(id).toBeDefined();
    await admin.client('KILL', 'ID', id as string);
    expect(await applied).toMatchObject({ changedPaths: ['port'] });
    expect(config.get().port).toBe(2);
    await config.close();
    client.disconnect();
  });

  it('fails fast when the key is missing or Redis is down, unless optional', async () => {
    const missing = await createConfig({
      schema,
      sources: [redisSource({ url: inject('redisUrl'), key })],
    })
      .load()
      .catch((e: unknown) => e);
    expect(isConfigError(missing, 'CONFIG_SOURCE_FAILED')).toBe(true);
    expect((missing as Error).message).toContain(`Redis key ${key} does not exist`);

    const down = createConfig({
      schema,
      sources: [redisSource({ url: 'redis://127.0.0.1:1', key, timeoutMs: 500 })],
    });
    const error = await down.load().catch((e: unknown) => e);
    expect(isConfigError(error, 'CONFIG_SOURCE_FAILED')).toBe(true);
    await down.close();

    await using optional = createConfig({
      schema,
      sources: [
        redisSource({
          url: 'redis://127.0.0.1:1',
          key,
          timeoutMs: 500,
          optional: true,
          watch: false,
        }),
      ],
    });
    expect((await optional.load()).port).toBe(3000);
    expect(optional.status().sources[0]?.state).toBe('failed');
  });

  it('keeps the last good values and reports the source failed when Redis goes down', async () => {
    const server = await startRedisServer();
    const writer = new Redis(server.url, { maxRetriesPerRequest: 1 });
    writer.on('error', () => {}); // it loses its server on purpose
    try {
      await writer.hset(key, { port: '1' });
      await using config = createConfig({
        schema,
        sources: [redisSource({ url: server.url, key, timeoutMs: 500 })],
      });
      await config.load();
      const failed = next<SourceErrorEvent>((l) => config.onSourceError(l));
      await server.stop();
      await failed;
      expect(config.get().port).toBe(1);
      expect(config.status().sources[0]?.state).toBe('failed');
    } finally {
      writer.disconnect();
      await server.stop().catch(() => {});
    }
  });
});
