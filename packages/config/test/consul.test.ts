import { freePort, ManualClock } from '@ballast/test-utils';
import nock from 'nock';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import {
  type AppliedEvent,
  consulKV,
  createConfig,
  isConfigError,
  type SourceErrorEvent,
} from '../src/index.ts';
import { next } from './support/temp.ts';

const CONSUL = 'http://127.0.0.1:8500';
const schema = z.object({
  port: z.number().int().default(3000),
  db: z.object({
    poolMax: z.number().int().positive().default(10),
    host: z.string().default('localhost'),
  }),
  flags: z.record(z.string(), z.boolean()).default({}),
});

/** One KV entry as Consul's HTTP API returns it (`Value` base64-encoded). */
function kv(key: string, value: string | null, modifyIndex: number) {
  return {
    LockIndex: 0,
    Key: key,
    Flags: 0,
    Value: value === null ? null : Buffer.from(value).toString('base64'),
    CreateIndex: 5,
    ModifyIndex: modifyIndex,
  };
}

/** The headers Consul sends with a KV read. */
function headers(index: number) {
  return {
    'X-Consul-Index': String(index),
    'X-Consul-Knownleader': 'true',
    'X-Consul-Lastcontact': '0',
  };
}

/** The KV path the `consul` client requests (it encodes the key as one path segment). */
function kvPath(key: string) {
  return `/v1/kv/${encodeURIComponent(key)}`;
}

beforeEach(() => {
  nock.disableNetConnect();
});
afterEach(() => {
  nock.cleanAll();
  nock.enableNetConnect();
});

describe('consulKV()', () => {
  it('reads keys under the prefix as paths, coerced, with the ACL token, labelled by ModifyIndex', async () => {
    const scope = nock(CONSUL, { reqheaders: { 'x-consul-token': 'secret-token' } })
      .get(kvPath('shop/config'))
      .query({ recurse: 'true' })
      .reply(
        200,
        [
          kv('shop/config/', null, 3),
          kv('shop/config/port', '8080', 40),
          kv('shop/config/db/pool_max', '20', 42),
          kv('shop/config/flags/beta', 'true', 41),
          kv('shop/configuration/port', '1', 50), // another prefix that merely starts the same
        ],
        headers(50),
      );
    const config = createConfig({
      schema,
      sources: [consulKV({ prefix: 'shop/config', token: 'secret-token', watch: false })],
    });
    expect(await config.load()).toEqual({
      port: 8080,
      db: { poolMax: 20, host: 'localhost' },
      flags: { beta: true },
    });
    expect(config.status().sources[0]?.label).toBe('42');
    expect(config.describe().find((e) => e.path === 'db.poolMax')?.source).toBe(
      'consul shop/config/db/pool_max',
    );
    expect(scope.isDone()).toBe(true);
    await config.close();
  });

  it('reads the prefix key itself as one YAML or JSON document', async () => {
    nock(CONSUL)
      .get(kvPath('shop/app'))
      .query({ recurse: 'true' })
      .reply(200, [kv('shop/app', 'port: 81\ndb:\n  poolMax: 4\n', 77)], headers(77));
    const config = createConfig({
      schema,
      sources: [consulKV({ prefix: 'shop/app', watch: false })],
    });
    expect(await config.load()).toMatchObject({ port: 81, db: { poolMax: 4 } });
    expect(config.status().sources[0]?.label).toBe('77');
    await config.close();
  });

  it('fails fast when the prefix is missing or Consul is down, unless optional', async () => {
    nock(CONSUL).get(kvPath('shop/none')).query(true).times(2).reply(404, '', headers(9));
    const missing = await createConfig({
      schema,
      sources: [consulKV({ prefix: 'shop/none', watch: false })],
    })
      .load()
      .catch((e: unknown) => e);
    expect(isConfigError(missing, 'CONFIG_SOURCE_FAILED')).toBe(true);
    expect((missing as Error).message).toContain('Consul has no keys under shop/none');
    const optional = createConfig({
      schema,
      sources: [consulKV({ prefix: 'shop/none', watch: false, optional: true })],
    });
    expect((await optional.load()).port).toBe(3000);

    // Nothing listens on this port: a real connection refusal, not a mocked one.
    const port = await freePort();
    nock.enableNetConnect(`127.0.0.1:${port}`);
    const down = await createConfig({
      schema,
      sources: [consulKV({ prefix: 'shop/config', port, watch: false })],
    })
      .load()
      .catch((e: unknown) => e);
    expect(isConfigError(down, 'CONFIG_SOURCE_FAILED')).toBe(true);
    expect((down as Error).message).toMatch(/consul shop\/config: .*ECONNREFUSED/);
  });

  it('watches with blocking queries: rate-limited, applied at once, index reset when it goes backwards', async () => {
    const clock = new ManualClock();
    const seen: string[] = [];
    /** A reply body that records which query got it. */
    const mark = (label: string, body: unknown[]) => () => {
      seen.push(label);
      return body;
    };
    nock(CONSUL)
      .get(kvPath('shop/config'))
      .query({ recurse: 'true' })
      .reply(200, [kv('shop/config/port', '1', 10)], headers(10))
      // the first blocking query waits on index 10; Consul answers when the key changes
      .get(kvPath('shop/config'))
      .query({ recurse: 'true', index: '10', wait: '300s' })
      .reply(200, mark('index=10', [kv('shop/config/port', '2', 11)]), headers(11))
      // the wait ends without a change: same index, nothing applied
      .get(kvPath('shop/config'))
      .query({ recurse: 'true', index: '11', wait: '300s' })
      .reply(200, mark('index=11', [kv('shop/config/port', '2', 11)]), headers(11))
      // the cluster was restored from a snapshot: the index went backwards
      .get(kvPath('shop/config'))
      .query({ recurse: 'true', index: '11', wait: '300s' })
      .reply(200, mark('backwards', [kv('shop/config/port', '3', 4)]), headers(4))
      // so the next query starts over without blocking
      .get(kvPath('shop/config'))
      .query({ recurse: 'true' })
      .reply(200, mark('reset', [kv('shop/config/port', '3', 5)]), headers(5))
      .get(kvPath('shop/config'))
      .query({ recurse: 'true', index: '5', wait: '300s' })
      .delay(60_000)
      .reply(200, [], headers(5));

    const config = createConfig({ schema, sources: [consulKV({ prefix: 'shop/config' })], clock });
    await config.load();
    const applied: AppliedEvent[] = [];
    config.onApplied((e) => applied.push(e));

    await clock.advanceAsync(249);
    expect(seen).toEqual([]); // rate limit: no query within 250 ms of the last one
    await clock.advanceAsync(1);
    await vi.waitFor(() => expect(applied).toHaveLength(1));
    expect(config.get().port).toBe(2);
    expect(applied[0]?.sources).toEqual({ 'consul shop/config': '11' });

    await clock.advanceAsync(250);
    await vi.waitFor(() => expect(seen).toContain('index=11'));
    await clock.advanceAsync(250);
    await vi.waitFor(() => expect(seen).toContain('backwards'));
    await clock.advanceAsync(250);
    await vi.waitFor(() => expect(applied).toHaveLength(2));
    expect(seen).toEqual(['index=10', 'index=11', 'backwards', 'reset']);
    expect(config.get().port).toBe(3);
    await clock.advanceAsync(250);
    await config.close();
  });

  it('backs off exponentially after failures and keeps the last good values', async () => {
    const clock = new ManualClock();
    let attempts = 0;
    nock(CONSUL)
      .get(kvPath('shop/config'))
      .query({ recurse: 'true' })
      .reply(200, [kv('shop/config/port', '1', 10)], headers(10))
      .get(kvPath('shop/config'))
      .query({ recurse: 'true', index: '10', wait: '300s' })
      .times(2)
      .reply(() => {
        attempts++;
        return [500, 'rpc error: No cluster leader'];
      })
      .get(kvPath('shop/config'))
      .query({ recurse: 'true', index: '10', wait: '300s' })
      .reply(200, [kv('shop/config/port', '5', 12)], headers(12))
      .get(kvPath('shop/config'))
      .query({ recurse: 'true', index: '12', wait: '300s' })
      .delay(60_000)
      .reply(200, [], headers(12));
    const config = createConfig({
      schema,
      sources: [consulKV({ prefix: 'shop/config', backoffMs: 1000, minIntervalMs: 0 })],
      clock,
    });
    // The back-off is drawn from [ceiling/2, ceiling]; take the ceiling to know when the retries come.
    const random = vi.spyOn(Math, 'random').mockReturnValue(1);
    await config.load();
    const errors: SourceErrorEvent[] = [];
    config.onSourceError((e) => errors.push(e));
    await vi.waitFor(() => expect(errors).toHaveLength(1));
    expect(config.get().port).toBe(1);
    expect(config.status().sources[0]).toMatchObject({
      state: 'failed',
      error: expect.stringContaining('internal server error'),
    });
    await clock.advanceAsync(999); // first back-off: 1000 ms
    expect(attempts).toBe(1);
    await clock.advanceAsync(1);
    await vi.waitFor(() => expect(errors).toHaveLength(2));
    const applied = next<AppliedEvent>((l) => config.onApplied(l));
    await clock.advanceAsync(1999); // second back-off: 2000 ms
    expect(attempts).toBe(2);
    await clock.advanceAsync(1);
    await applied;
    random.mockRestore();
    expect(config.get().port).toBe(5);
    expect(config.status().sources[0]?.state).toBe('ok');
    await config.close();
  });
});
