/**
 * Configuration of one service: schema defaults → config/shared.yaml → config/<service>.yaml →
 * SHOP_CFG_* env → the live JSON document in Redis (SHOP_CONFIG_KEY), hot reloaded. Every applied or
 * refused live push is recorded in the Redis hash `shop:config:applied` (field = INSTANCE_ID), so the
 * scenario runner can see who applied a push and who refused it.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createConfig, defaults, env, file, redisSource } from '@ballast/config';
import type { Redis } from 'ioredis';
import { type Settings, settingsSchema } from './settings.ts';

export interface ConfigStatus {
  version: string | undefined;
  appliedAt: number;
  rejected?: { version: string | undefined; error: string; at: number } | undefined;
}

export interface ShopConfig {
  get(): Settings;
  status(): ConfigStatus;
  onChange(listener: (settings: Settings) => void): void;
  close(): Promise<void>;
}

export const APPLIED_KEY = 'shop:config:applied';

export async function loadConfig(options: {
  service: string;
  instanceId: string;
  redis: Redis;
  dir?: string | undefined;
  key?: string | undefined;
}): Promise<ShopConfig> {
  const dir =
    options.dir ?? process.env.SHOP_CONFIG_DIR ?? join(import.meta.dirname, '..', 'config');
  const key = options.key ?? process.env.SHOP_CONFIG_KEY ?? 'shop:config';
  const own = join(dir, `${options.service}.yaml`);
  const config = createConfig({
    schema: settingsSchema,
    sources: [
      defaults(),
      file(join(dir, 'shared.yaml')),
      ...(existsSync(own) ? [file(own)] : []),
      env({ prefix: 'SHOP_CFG_' }),
      // A stack without a live document yet (or a Redis blip at start) must still start.
      redisSource({ client: options.redis, key, type: 'json', optional: true }),
    ],
  });
  await config.load();

  const liveName = `redis ${key}`;
  /** The live document's version in use (the label of the last applied snapshot). */
  const liveLabel = (): string | undefined => config.history().at(-1)?.sources[liveName];

  const status: ConfigStatus = { version: liveLabel(), appliedAt: Date.now() };
  const listeners: ((settings: Settings) => void)[] = [];
  const record = (entry: object) =>
    void options.redis
      .hset(
        APPLIED_KEY,
        options.instanceId,
        JSON.stringify({ service: options.service, ...entry, at: Date.now() }),
      )
      .catch(() => {});
  record({ version: status.version, ok: true });

  config.onApplied(() => {
    status.version = liveLabel();
    status.appliedAt = Date.now();
    record({ version: status.version, ok: true });
    for (const listener of listeners) listener(config.get());
  });
  config.onRejected((event) => {
    const error = event.issues
      .map((issue) => `${issue.path}: ${issue.message} (${issue.source})`)
      .join('; ');
    // The refused document's own label: what the source last read.
    const version = config.status().sources.find((source) => source.name === liveName)?.label;
    status.rejected = { version, error, at: Date.now() };
    record({ version, ok: false, error, current: status.version });
  });

  return {
    get: () => config.get(),
    status: () => status,
    onChange: (listener) => void listeners.push(listener),
    close: () => config.close(),
  };
}
