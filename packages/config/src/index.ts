export type {
  AppliedEvent,
  ApplyReason,
  Config,
  ConfigEntry,
  ConfigOptions,
  ConfigStatus,
  Frozen,
  HistoryEntry,
  RejectedEvent,
  SourceErrorEvent,
  SourceStatus,
} from './config.ts';
export { createConfig } from './config.ts';
export type { ConfigErrorCode, ConfigIssue, SourceFailure } from './errors.ts';
export {
  ConfigError,
  ConfigInvalidError,
  ConfigNotLoadedError,
  ConfigSourceFailedError,
  InvalidOptionsError,
  isConfigError,
} from './errors.ts';
export type { SchemaInfo } from './schema-info.ts';
export type { SecretSchema } from './secret.ts';
export { isSecret, Secret, secret } from './secret.ts';
export type { Source, SourceContext, SourceValues, SourceWatcher } from './source.ts';
export type { ConsulClientLike, ConsulKVOptions } from './sources/consul.ts';
export { consulKV } from './sources/consul.ts';
export { defaults } from './sources/defaults.ts';
export { parseDotenv } from './sources/dotenv.ts';
export type { EnvOptions } from './sources/env.ts';
export { env } from './sources/env.ts';
export type { FileOptions } from './sources/file.ts';
export { file } from './sources/file.ts';
export type { ProfilesOptions } from './sources/profiles.ts';
export { profiles } from './sources/profiles.ts';
export type { RedisClientLike, RedisSourceOptions } from './sources/redis.ts';
export { redisSource } from './sources/redis.ts';
export type { SecretsDirOptions } from './sources/secrets-dir.ts';
export { secretsDir } from './sources/secrets-dir.ts';
