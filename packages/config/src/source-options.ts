// Option schemas of the source factories, validated once when the source is created.
import { type Infer, o, parseOptions, type Schema } from '@ballast/kernel';
import { InvalidOptionsError } from './errors.ts';

const ms = () => o.number({ min: 0 }).optional();
const flag = () => o.boolean().optional();

const schemas = {
  'file()': o.object({
    path: o.string({ minLength: 1 }),
    optional: flag(),
    format: o.oneOf(['json', 'yaml']).optional(),
    watch: flag(),
    debounceMs: ms(),
    maxWaitMs: ms(),
  }),
  'profiles()': o.object({
    dir: o.string({ minLength: 1 }).optional(),
    profile: o.union(o.string(), o.array(o.string({ minLength: 1 }))).optional(),
    extensions: o.array(o.oneOf(['yaml', 'yml', 'json']), { minLength: 1 }).optional(),
    local: flag(),
    debounceMs: ms(),
    watch: flag(),
  }),
  'env()': o.object({
    prefix: o.string().optional(),
    separator: o.string({ minLength: 1 }).optional(),
    dotenv: o.string({ minLength: 1 }).optional(),
    env: o
      .custom<object>(
        (v) => typeof v === 'object' && v !== null,
        'an object of strings (like process.env)',
      )
      .optional(),
  }),
  'secretsDir()': o.object({
    path: o.string({ minLength: 1 }),
    optional: flag(),
    watch: flag(),
    debounceMs: ms(),
  }),
  'redisSource()': o.object({
    key: o.string({ minLength: 1 }),
    client: o
      .custom<object>(
        (v) =>
          typeof v === 'object' &&
          v !== null &&
          typeof (v as { hgetall?: unknown }).hgetall === 'function',
        'an ioredis client',
      )
      .optional(),
    url: o.string({ minLength: 1 }).optional(),
    type: o.oneOf(['hash', 'json', 'auto']).optional(),
    channel: o.string({ minLength: 1 }).optional(),
    versionField: o.string({ minLength: 1 }).optional(),
    optional: flag(),
    watch: flag(),
    timeoutMs: o.number({ gt: 0 }).optional(),
  }),
  'consulKV()': o.object({
    prefix: o.string({ minLength: 1 }),
    client: o
      .custom<object>(
        (v) =>
          typeof v === 'object' &&
          v !== null &&
          typeof (v as { kv?: { get?: unknown } }).kv?.get === 'function',
        'a consul client (new Consul(…))',
      )
      .optional(),
    host: o.string({ minLength: 1 }).optional(),
    port: o.number({ min: 1, max: 65535, integer: true }).optional(),
    secure: flag(),
    token: o.string().optional(),
    dc: o.string({ minLength: 1 }).optional(),
    optional: flag(),
    watch: flag(),
    waitMs: o.number({ min: 1000, max: 600_000 }).optional(),
    minIntervalMs: ms(),
    backoffMs: o.number({ gt: 0 }).optional(),
    maxBackoffMs: o.number({ gt: 0 }).optional(),
    timeoutMs: o.number({ gt: 0 }).optional(),
  }),
} satisfies Record<string, Schema<unknown>>;

type Factory = keyof typeof schemas;

/** Validates a source factory's options; throws `INVALID_OPTIONS` naming the option. */
export function checkSourceOptions<F extends Factory>(
  factory: F,
  input: unknown,
): Infer<(typeof schemas)[F]> {
  return parseOptions(schemas[factory] as Schema<Infer<(typeof schemas)[F]>>, input, {
    factory,
    error: InvalidOptionsError,
  });
}
