import {
  type Clock,
  type NumberRules,
  nestIssue,
  o,
  optionIssue,
  parseOptions as parseWith,
  type Schema,
} from '@ballast/kernel';
import { InvalidOptionsError, isBreakerError } from './errors.ts';

/** Where every message of this package sends the reader. */
const DOCS = 'the Options table of the @ballast/breaker README';

/**
 * Validates `input` against `schema` once, at construction, with the kernel's parser: a bad option
 * throws {@link InvalidOptionsError} (code `INVALID_OPTIONS`) carrying `.option` and `.received`,
 * e.g. `retry(): option "budget.ratio" must be a number >= 0 <= 10 (got -1). See …`.
 */
export function parseOptions<T>(schema: Schema<T>, input: unknown, factory: string): T {
  return parseWith(schema, input, { factory, error: InvalidOptionsError, docs: DOCS });
}

/** An `INVALID_OPTIONS` error in the kernel's message format, for rules a schema cannot state. */
export function invalidOption(
  factory: string,
  option: string,
  received: unknown,
  rule: string,
): InvalidOptionsError {
  return new InvalidOptionsError(optionIssue({ factory, docs: DOCS }, option, received, rule));
}

/**
 * Builds a nested object (e.g. the `retry` policy inside an interceptor) and re-reports its
 * `INVALID_OPTIONS` error under the outer factory, with the option path prefixed:
 * `breakerInterceptor(): option "retry.maxAttempts" …`.
 */
export function nestedOptions<T>(factory: string, prefix: string, build: () => T): T {
  try {
    return build();
  } catch (error) {
    if (!isBreakerError(error, 'INVALID_OPTIONS')) throw error;
    if (error.option === prefix || error.option.startsWith(`${prefix}.`)) {
      const option = error.option;
      const rest = error.message.replace(/^[^"]*"[^"]*"/, '');
      throw new InvalidOptionsError({
        option,
        received: error.received,
        message: `${factory}: option "${option}"${rest}`,
      });
    }
    throw new InvalidOptionsError(
      nestIssue(error, prefix, { factory, error: InvalidOptionsError, docs: DOCS }),
    );
  }
}

/** A finite number (no `Infinity`), with the kernel's bounds. */
export function finite(rules: NumberRules = {}): Schema<number> {
  return o.number(rules).refine(Number.isFinite, 'must be a finite number');
}

/** An injectable clock with `now()`, `setTimeout()` and `clearTimeout()`. */
export const clockSchema: Schema<Clock> = o.clock<Clock>();

/** A predicate option. */
export const predicateSchema = o.fn<(value: unknown) => boolean>();
