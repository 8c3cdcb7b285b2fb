// TEMPORARY stand-in for the subset of @ballast/kernel this package uses, until the kernel lands on
// main. Same names and signatures; deleted when the package switches to the real kernel.
const BRAND = Symbol.for('@ballast/kernel.error');

interface ErrorClass {
  readonly brand?: symbol;
  readonly code?: string;
}

export abstract class BallastError<C extends string = string> extends Error {
  static readonly brand: symbol = BRAND;
  declare static readonly code?: string;
  readonly code: C;
  constructor(code: C, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
    const brand = (new.target as ErrorClass).brand;
    Object.defineProperty(this, BRAND, { value: true });
    if (brand !== undefined && brand !== BRAND) Object.defineProperty(this, brand, { value: true });
  }
  static override [Symbol.hasInstance](value: unknown): boolean {
    if (typeof value !== 'object' || value === null) return false;
    const brand = (this as ErrorClass).brand ?? BRAND;
    if ((value as Record<symbol, unknown>)[brand] !== true) return false;
    const code = Object.hasOwn(this, 'code') ? (this as ErrorClass).code : undefined;
    return code === undefined || (value as { code?: unknown }).code === code;
  }
}

export function errorGuard<M extends Record<string, Error>>(
  base: abstract new (...args: never[]) => M[keyof M],
): <K extends keyof M & string = keyof M & string>(error: unknown, code?: K) => error is M[K] {
  const brand = (base as unknown as ErrorClass).brand ?? BRAND;
  return <K extends keyof M & string>(error: unknown, code?: K): error is M[K] =>
    typeof error === 'object' &&
    error !== null &&
    (error as Record<symbol, unknown>)[brand] === true &&
    (code === undefined || (error as { code?: unknown }).code === code);
}

export interface OptionIssue {
  readonly option: string;
  readonly received: unknown;
  readonly message: string;
}

class OptionFailure extends Error {
  readonly path: string;
  readonly expected: string;
  readonly received: unknown;
  constructor(path: string, expected: string, received: unknown) {
    super(expected);
    this.path = path;
    this.expected = expected;
    this.received = received;
  }
}

type Check<T> = (value: unknown, path: string) => T;
const join = (path: string, key: string) => (path === '' ? key : `${path}.${key}`);
const fail = (path: string, expected: string, value: unknown): never => {
  throw new OptionFailure(path, expected, value);
};

export class Schema<T> {
  readonly expected: string;
  readonly #check: Check<T>;
  constructor(expected: string, check: Check<T>) {
    this.expected = expected;
    this.#check = check;
  }
  parse(value: unknown, path = ''): T {
    return this.#check(value, path);
  }
  optional(): Schema<T | undefined> {
    return new Schema(this.expected, (v, p) => (v === undefined ? undefined : this.parse(v, p)));
  }
  default(fallback: T): Schema<T> {
    return new Schema(this.expected, (v, p) => (v === undefined ? fallback : this.parse(v, p)));
  }
}
export type Infer<S> = S extends Schema<infer T> ? T : never;

const custom = <T>(test: (value: unknown) => boolean, expected: string): Schema<T> =>
  new Schema(expected, (value, path) => (test(value) ? (value as T) : fail(path, `must be ${expected}`, value)));

export const o = {
  number: (rules: { min?: number; max?: number; integer?: boolean } = {}) =>
    custom<number>(
      (v) =>
        typeof v === 'number' &&
        !Number.isNaN(v) &&
        v >= (rules.min ?? Number.NEGATIVE_INFINITY) &&
        v <= (rules.max ?? Number.POSITIVE_INFINITY) &&
        (!rules.integer || Number.isInteger(v)),
      `a number${rules.min !== undefined ? ` >= ${rules.min}` : ''}${rules.max !== undefined ? ` <= ${rules.max}` : ''}`,
    ),
  string: () => custom<string>((v) => typeof v === 'string', 'a string'),
  boolean: () => custom<boolean>((v) => typeof v === 'boolean', 'a boolean (true or false)'),
  oneOf: <const V extends readonly (string | number | boolean)[]>(values: V) =>
    custom<V[number]>((v) => values.includes(v as V[number]), `one of ${values.map((v) => JSON.stringify(v)).join(', ')}`),
  fn: <F extends (...args: never[]) => unknown>() => custom<F>((v) => typeof v === 'function', 'a function'),
  custom,
  object: <S extends Record<string, Schema<unknown>>>(shape: S) =>
    new Schema<{ [K in keyof S]: Infer<S[K]> }>('an object', (value, path) => {
      if (typeof value !== 'object' || value === null || Array.isArray(value))
        fail(path, 'must be an object', value);
      const input = value as Record<string, unknown>;
      for (const key of Object.keys(input))
        if (!Object.hasOwn(shape, key))
          fail(join(path, key), `is not a known option (known: ${Object.keys(shape).join(', ')})`, input[key]);
      const out: Record<string, unknown> = {};
      for (const key of Object.keys(shape)) {
        const parsed = shape[key]!.parse(input[key], join(path, key));
        if (parsed !== undefined) out[key] = parsed;
      }
      return out as { [K in keyof S]: Infer<S[K]> };
    }),
  record: <T>(item: Schema<T>) =>
    new Schema<Record<string, T>>(`an object of ${item.expected}`, (value, path) => {
      if (typeof value !== 'object' || value === null) fail(path, `must be an object of ${item.expected}`, value);
      const out: Record<string, T> = {};
      for (const [k, v] of Object.entries(value as object)) out[k] = item.parse(v, join(path, k));
      return out;
    }),
  union: <S extends readonly Schema<unknown>[]>(...schemas: S) =>
    new Schema<Infer<S[number]>>(schemas.map((s) => s.expected).join(' or '), (value, path) => {
      for (const schema of schemas) {
        try {
          return schema.parse(value, path) as Infer<S[number]>;
        } catch (error) {
          if (!(error instanceof OptionFailure)) throw error;
        }
      }
      return fail(path, `must be ${schemas.map((s) => s.expected).join(' or ')}`, value);
    }),
} as const;

export function parseOptions<T>(
  schema: Schema<T>,
  input: unknown,
  context: { factory: string; error: new (issue: OptionIssue) => Error },
): T {
  try {
    return schema.parse(input === undefined ? {} : input);
  } catch (error) {
    if (!(error instanceof OptionFailure)) throw error;
    const option = error.path === '' ? '(options)' : error.path;
    throw new context.error({
      option,
      received: error.received,
      message: `${context.factory}: option "${option}" ${error.expected}. See the Options table of the package README.`,
    });
  }
}
