import { inspect } from 'node:util';
import type * as z from 'zod';

/** What a secret shows instead of its value, everywhere. */
export const REDACTED = '[redacted]';

const secretSchemas = new WeakSet<object>();

/**
 * A value that must not leak: `String()`, `JSON.stringify`, `util.inspect` and template strings
 * show `[redacted]`; only {@link Secret.reveal} returns the value. Produced by {@link secret}
 * schemas.
 */
const SECRET_BRAND = Symbol.for('@ballast/config.secret');

export class Secret<T = string> {
  readonly #value: T;

  constructor(value: T) {
    this.#value = value;
    Object.defineProperty(this, SECRET_BRAND, { value: true });
    Object.freeze(this);
  }

  /** True for a `Secret` from any installed copy of this package. */
  static [Symbol.hasInstance](value: unknown): boolean {
    return (
      typeof value === 'object' &&
      value !== null &&
      (value as Record<symbol, unknown>)[SECRET_BRAND] === true
    );
  }

  /** The secret value itself: pass it straight to the client that needs it, never to a log. */
  reveal(): T {
    return this.#value;
  }

  /** `[redacted]`. */
  toString(): string {
    return REDACTED;
  }

  /** `[redacted]`, so `JSON.stringify(config.get())` never contains a secret. */
  toJSON(): string {
    return REDACTED;
  }

  /** `Secret([redacted])` in `console.log` and `util.inspect`. */
  [inspect.custom](): string {
    return `Secret(${REDACTED})`;
  }

  /** `[redacted]` in template strings and string concatenation. */
  [Symbol.toPrimitive](): string {
    return REDACTED;
  }
}

/** True when `value` is a {@link Secret} (from any copy of this package). */
export function isSecret(value: unknown): value is Secret<unknown> {
  return value instanceof Secret;
}

/** The schema {@link secret} returns: the inner schema's input, a `Secret` of its output. */
export type SecretSchema<T extends z.ZodType> = z.ZodPipe<
  T,
  z.ZodTransform<Secret<z.output<T>>, z.output<T>>
>;

/**
 * Marks a schema value as secret: it is validated by `schema`, then wrapped in a {@link Secret}, and
 * its value never appears in `describe()`, error messages, events, `JSON.stringify` or
 * `util.inspect` output. `db: z.object({ password: secret(z.string().min(12)) })`.
 */
export function secret<T extends z.ZodType>(schema: T): SecretSchema<T> {
  const wrapped = schema.transform((value) => new Secret(value)) as unknown as SecretSchema<T>;
  secretSchemas.add(wrapped);
  return wrapped;
}

/** True for a schema made by {@link secret}. */
export function isSecretSchema(schema: unknown): boolean {
  return typeof schema === 'object' && schema !== null && secretSchemas.has(schema);
}
