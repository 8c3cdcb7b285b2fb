/**
 * A small option-schema language: what zod gives for option validation, without its ~55 ms of
 * import time. A schema checks one value and returns it (with defaults applied); on bad input it
 * throws an {@link OptionFailure} naming the path, the value received and what was expected.
 * `parseOptions()` turns that into the package's `INVALID_OPTIONS` error.
 */

/** Thrown by a schema when a value does not fit; `parseOptions()` converts it. */
export class OptionFailure extends Error {
  /** Dotted path of the offending option (`''` for the options object itself). */
  readonly path: string;
  /** What was expected, phrased to follow the option name: `must be >= 0`. */
  readonly expected: string;
  /** The value that was received. */
  readonly received: unknown;

  constructor(path: string, expected: string, received: unknown) {
    super(expected);
    this.path = path;
    this.expected = expected;
    this.received = received;
  }
}

type Check<T> = (value: unknown, path: string) => T;

/** One option's rule. Build schemas with {@link o}; read the output type with {@link Infer}. */
export class Schema<T> {
  /** What a valid value looks like, for messages: `a number >= 0`. */
  readonly expected: string;
  readonly #check: Check<T>;

  constructor(expected: string, check: Check<T>) {
    this.expected = expected;
    this.#check = check;
  }

  /** Checks `value` at `path`; returns it (defaults applied) or throws {@link OptionFailure}. */
  parse(value: unknown, path = ''): T {
    return this.#check(value, path);
  }

  /** The same rule, but `undefined` (or a missing key) is accepted. */
  optional(): Schema<T | undefined> {
    return new Schema(this.expected, (value, path) =>
      value === undefined ? undefined : this.#check(value, path),
    );
  }

  /** The same rule, with `fallback` used when the value is `undefined` or missing. */
  default(fallback: T): Schema<T> {
    return new Schema(this.expected, (value, path) =>
      value === undefined ? fallback : this.#check(value, path),
    );
  }

  /** Adds a rule on the checked value; `expected` completes "option … must …". */
  refine(test: (value: T) => boolean, expected: string): Schema<T> {
    return new Schema(this.expected, (value, path) => {
      const checked = this.#check(value, path);
      if (!test(checked)) throw new OptionFailure(path, expected, value);
      return checked;
    });
  }
}

/** The output type of a schema. */
export type Infer<S> = S extends Schema<infer T> ? T : never;

type Shape = Record<string, Schema<unknown>>;
type Simplify<T> = { [K in keyof T]: T[K] } & {};
type OptionalKeys<S extends Shape> = {
  [K in keyof S]: undefined extends Infer<S[K]> ? K : never;
}[keyof S];
/** The output of an object schema: keys whose schema accepts `undefined` become optional. */
export type InferShape<S extends Shape> = Simplify<
  { [K in Exclude<keyof S, OptionalKeys<S>>]: Infer<S[K]> } & {
    [K in OptionalKeys<S>]?: Infer<S[K]>;
  }
>;

function fail(path: string, expected: string, value: unknown): never {
  throw new OptionFailure(path, expected, value);
}

function join(path: string, key: string | number): string {
  return path === '' ? String(key) : `${path}.${key}`;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Bounds of {@link o.number}. */
export interface NumberRules {
  /** Smallest allowed value (inclusive). */
  min?: number | undefined;
  /** Largest allowed value (inclusive). */
  max?: number | undefined;
  /** Values must be strictly greater than this. */
  gt?: number | undefined;
  /** Whole numbers only. */
  integer?: boolean | undefined;
}

function numberSchema(rules: NumberRules = {}): Schema<number> {
  const { min, max, gt, integer = false } = rules;
  const parts = [integer ? 'an integer' : 'a number'];
  if (gt !== undefined) parts.push(`> ${gt}`);
  if (min !== undefined) parts.push(`>= ${min}`);
  if (max !== undefined) parts.push(`<= ${max}`);
  const expected = parts.join(' ');
  return new Schema(expected, (value, path) => {
    if (typeof value !== 'number' || Number.isNaN(value)) fail(path, `must be ${expected}`, value);
    if (integer && !Number.isInteger(value)) fail(path, `must be ${expected}`, value);
    if ((min !== undefined && value < min) || (max !== undefined && value > max))
      fail(path, `must be ${expected}`, value);
    if (gt !== undefined && !(value > gt)) fail(path, `must be ${expected}`, value);
    return value;
  });
}

/** Rules of {@link o.string}. */
export interface StringRules {
  /** Shortest allowed length (1 = non-empty). */
  minLength?: number | undefined;
  /** Longest allowed length. */
  maxLength?: number | undefined;
  /** A pattern the whole string must match, with a phrase for the message. */
  pattern?: { regex: RegExp; expected: string } | undefined;
}

function stringSchema(rules: StringRules = {}): Schema<string> {
  const { minLength = 0, maxLength = Number.POSITIVE_INFINITY, pattern } = rules;
  const expected = pattern?.expected ?? (minLength > 0 ? 'a non-empty string' : 'a string');
  return new Schema(expected, (value, path) => {
    if (typeof value !== 'string') fail(path, `must be ${expected}`, value);
    if (value.length < minLength || value.length > maxLength)
      fail(path, `must be a string of ${minLength} to ${maxLength} characters`, value);
    if (pattern !== undefined && !pattern.regex.test(value))
      fail(path, `must be ${expected}`, value);
    return value;
  });
}

function oneOf<const V extends readonly (string | number | boolean)[]>(
  values: V,
): Schema<V[number]> {
  const expected = `one of ${values.map((v) => JSON.stringify(v)).join(', ')}`;
  return new Schema(expected, (value, path) => {
    if (!values.includes(value as V[number])) fail(path, `must be ${expected}`, value);
    return value as V[number];
  });
}

function literal<const V extends string | number | boolean | null>(expectedValue: V): Schema<V> {
  const expected = JSON.stringify(expectedValue);
  return new Schema(expected, (value, path) => {
    if (value !== expectedValue) fail(path, `must be ${expected}`, value);
    return expectedValue;
  });
}

/** Options of {@link o.object}. */
export interface ObjectRules {
  /** Keep keys the shape does not name instead of rejecting them (default `false`). */
  passthrough?: boolean | undefined;
}

function objectSchema<S extends Shape>(shape: S, rules: ObjectRules = {}): Schema<InferShape<S>> {
  const keys = Object.keys(shape);
  return new Schema('an object', (value, path) => {
    if (!isObject(value)) fail(path, 'must be an object', value);
    const out: Record<string, unknown> = rules.passthrough ? { ...value } : {};
    for (const key of Object.keys(value)) {
      if (Object.hasOwn(shape, key) || rules.passthrough) continue;
      const near = closest(key, keys);
      fail(
        join(path, key),
        near === undefined
          ? `is not a known option (known: ${keys.join(', ')})`
          : `is not a known option; did you mean "${join(path, near)}"?`,
        value[key],
      );
    }
    for (const key of keys) {
      const parsed = shape[key]!.parse(value[key], join(path, key));
      if (parsed !== undefined) out[key] = parsed;
    }
    return out as InferShape<S>;
  });
}

/** Rules of {@link o.array}. */
export interface ArrayRules {
  /** Fewest items allowed. */
  minLength?: number | undefined;
  /** Most items allowed. */
  maxLength?: number | undefined;
}

function arraySchema<T>(item: Schema<T>, rules: ArrayRules = {}): Schema<T[]> {
  const { minLength = 0, maxLength = Number.POSITIVE_INFINITY } = rules;
  const expected =
    minLength > 0 ? `a non-empty array of ${item.expected}` : `an array of ${item.expected}`;
  return new Schema(expected, (value, path) => {
    if (!Array.isArray(value)) fail(path, `must be ${expected}`, value);
    if (value.length < minLength || value.length > maxLength)
      fail(path, `must have ${minLength} to ${maxLength} items`, value);
    return value.map((entry, index) => item.parse(entry, join(path, index)));
  });
}

function recordSchema<T>(item: Schema<T>): Schema<Record<string, T>> {
  return new Schema(`an object of ${item.expected}`, (value, path) => {
    if (!isObject(value)) fail(path, `must be an object of ${item.expected}`, value);
    const out: Record<string, T> = {};
    for (const [key, entry] of Object.entries(value)) out[key] = item.parse(entry, join(path, key));
    return out;
  });
}

function union<S extends readonly Schema<unknown>[]>(...schemas: S): Schema<Infer<S[number]>> {
  const expected = schemas.map((schema) => schema.expected).join(' or ');
  return new Schema(expected, (value, path) => {
    let deepest: OptionFailure | undefined;
    for (const schema of schemas) {
      try {
        return schema.parse(value, path) as Infer<S[number]>;
      } catch (error) {
        if (!(error instanceof OptionFailure)) throw error;
        if (error.path.length > (deepest?.path.length ?? path.length)) deepest = error;
      }
    }
    throw deepest ?? new OptionFailure(path, `must be ${expected}`, value);
  });
}

function custom<T>(test: (value: unknown) => boolean, expected: string): Schema<T> {
  return new Schema(expected, (value, path) => {
    if (!test(value)) fail(path, `must be ${expected}`, value);
    return value as T;
  });
}

const hasMethods = (value: unknown, names: readonly string[]): boolean =>
  typeof value === 'object' &&
  value !== null &&
  names.every((name) => typeof (value as Record<string, unknown>)[name] === 'function');

/**
 * Schema builders. Every schema has `.optional()`, `.default(value)` and `.refine(test, expected)`.
 *
 * ```ts
 * const schema = o.object({ timeoutMs: o.number({ min: 1 }).default(1000), name: o.string().optional() });
 * ```
 */
export const o = {
  /** A number (not NaN), optionally bounded or whole. */
  number: numberSchema,
  /** A whole number >= `min` (default 0). */
  integer: (rules: Omit<NumberRules, 'integer'> = {}) =>
    numberSchema({ min: 0, ...rules, integer: true }),
  /** A string, optionally bounded in length or matched against a pattern. */
  string: stringSchema,
  /** `true` or `false`. */
  boolean: () =>
    custom<boolean>((value) => typeof value === 'boolean', 'a boolean (true or false)'),
  /** One of the listed values; the message lists them. */
  oneOf,
  /** Exactly this value. */
  literal,
  /** An object with the given keys; an unknown key is rejected with the closest known one. */
  object: objectSchema,
  /** An array whose every item fits `item`. */
  array: arraySchema,
  /** An object whose every value fits `item`. */
  record: recordSchema,
  /** The first schema that fits; on failure, the error of the one that got deepest. */
  union,
  /** A function (its signature is not checked at run time). */
  fn: <F extends (...args: never[]) => unknown>() =>
    custom<F>((value) => typeof value === 'function', 'a function'),
  /** An `AbortSignal` (any realm's). */
  signal: () =>
    custom<AbortSignal>(
      (value) =>
        hasMethods(value, ['addEventListener', 'removeEventListener']) &&
        typeof (value as { aborted?: unknown }).aborted === 'boolean',
      'an AbortSignal',
    ),
  /** A clock with `now()`, `setTimeout()` and `clearTimeout()`. */
  clock: <C>() =>
    custom<C>(
      (value) => hasMethods(value, ['now', 'setTimeout', 'clearTimeout']),
      'a clock with now(), setTimeout() and clearTimeout()',
    ),
  /** An instance of `type` (checked with `instanceof`). */
  instanceOf: <T>(type: abstract new (...args: never[]) => T, expected: string) =>
    custom<T>((value) => value instanceof type, expected),
  /** Any value the test accepts; `expected` completes "must be …". */
  custom,
  /** Anything (a value passed through unchecked). */
  unknown: () => new Schema<unknown>('anything', (value) => value),
} as const;

/** The known name closest to `name` (edit distance), if one is close enough to be a typo. */
export function closest(name: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(name.length / 3)) + 1;
  for (const candidate of known) {
    const distance = editDistance(name.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + cost);
    }
    previous = current;
  }
  return previous[b.length]!;
}
