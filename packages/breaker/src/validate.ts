import { z } from 'zod';
import { InvalidOptionsError, isBreakerError } from './errors.ts';

/**
 * Validates `input` against `schema` once, at construction. Throws {@link InvalidOptionsError}
 * (code `INVALID_OPTIONS`) naming the first offending option, e.g.
 * `retry(): option "backoff.maxDelayMs" must be >= 0 (got -1)`.
 * Shared by every factory of the package (breaker, retry, timeout, …).
 */
export function parseOptions<S extends z.ZodType>(
  schema: S,
  input: unknown,
  factory: string,
): z.output<S> {
  const result = schema.safeParse(input ?? {});
  if (result.success) return result.data;
  const { path, message } = deepestIssue(result.error.issues[0]!);
  const option = path.map(String).join('.') || '(options)';
  const got = valueAt(input, path);
  throw new InvalidOptionsError(
    option,
    `${factory}: option "${option}" is invalid: ${message} (got ${describe(got)}). See the Options table in the @ballast/breaker README.`,
  );
}

/**
 * Builds a nested object (e.g. the `retry` policy inside an interceptor) and re-reports its
 * `INVALID_OPTIONS` error under the outer factory, with the option path prefixed:
 * `breakerInterceptor(): option "retry.maxAttempts" is invalid: …`.
 */
export function nestedOptions<T>(factory: string, prefix: string, build: () => T): T {
  try {
    return build();
  } catch (error) {
    if (!(isBreakerError(error, 'INVALID_OPTIONS') && error instanceof InvalidOptionsError))
      throw error;
    const option = error.option.startsWith(`${prefix}.`)
      ? error.option
      : `${prefix}.${error.option}`;
    throw new InvalidOptionsError(
      option,
      error.message.replace(/^[^:]*: option "[^"]*"/, `${factory}: option "${option}"`),
    );
  }
}

/** A zod schema for an option that must be a function (zod 4 has no function schema). */
export function fnSchema<F extends (...args: never[]) => unknown>() {
  return z.custom<F>((value) => typeof value === 'function', { message: 'must be a function' });
}

/** A zod schema for an optional injectable clock. */
export const clockSchema = z.custom<import('./clock.ts').Clock>(
  (value) =>
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { now?: unknown }).now === 'function' &&
    typeof (value as { setTimeout?: unknown }).setTimeout === 'function' &&
    typeof (value as { clearTimeout?: unknown }).clearTimeout === 'function',
  { message: 'must be a clock with now(), setTimeout() and clearTimeout()' },
);

interface Issue {
  readonly path: readonly PropertyKey[];
  readonly message: string;
  readonly errors?: readonly (readonly Issue[])[];
}

/** For a union (`false | { … }`), the branch issue that got furthest into the input. */
function deepestIssue(issue: Issue): { path: readonly PropertyKey[]; message: string } {
  let best: { path: readonly PropertyKey[]; message: string } = issue;
  for (const branch of issue.errors ?? []) {
    for (const inner of branch) {
      const candidate = deepestIssue(inner);
      const path = [...issue.path, ...candidate.path];
      if (path.length > best.path.length) best = { path, message: candidate.message };
    }
  }
  return best;
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let value = input;
  for (const key of path) {
    if (typeof value !== 'object' || value === null) return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}

function describe(value: unknown): string {
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'string')
    return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === 'object' && value !== null)
    return Array.isArray(value) ? 'an array' : 'an object';
  return String(value);
}
