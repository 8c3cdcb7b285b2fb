import { optionIssue, parseOptions, type Schema } from '@ballast/kernel';
import { InvalidOptionsError } from './errors.ts';

const DOCS = 'https://github.com/ballast-dev/ballast/tree/main/packages/auth#options';

/**
 * Validates `input` against `schema` with the kernel's parser; on failure throws
 * `InvalidOptionsError` (`INVALID_OPTIONS`) naming the option, e.g.
 * `clientCredentials(): option "retry.attempts" must be an integer >= 1 <= 10 (got 0). See …`.
 * @internal
 */
export function parseAuthOptions<T>(schema: Schema<T>, input: unknown, factory: string): T {
  return parseOptions(schema, input, { factory, error: InvalidOptionsError, docs: DOCS });
}

/**
 * An `INVALID_OPTIONS` error for a rule that spans options (checked after the schema), in the
 * kernel's one message format: `factory: option "name" <rule> (got <value>). See …`. @internal
 */
export function optionError(
  factory: string,
  option: string,
  received: unknown,
  rule: string,
  cause?: unknown,
): InvalidOptionsError {
  return new InvalidOptionsError(optionIssue({ factory, docs: DOCS }, option, received, rule), {
    cause,
  });
}
