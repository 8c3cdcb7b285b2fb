import { OptionFailure, type Schema } from './schema.ts';

/** What an `INVALID_OPTIONS` error carries: which option, what was received, the full message. */
export interface OptionIssue {
  /** Dotted path of the offending option, e.g. `backoff.maxDelayMs`; `(options)` for the object itself. */
  readonly option: string;
  /** The value that was passed (functions and long strings are summarised in `message` only). */
  readonly received: unknown;
  /** The whole message: factory, option, rule, value received, where to read more. */
  readonly message: string;
}

/** Where a `parseOptions()` call comes from, for the message and the error class. */
export interface OptionsContext {
  /** The factory being called, as the user wrote it: `retry()`. */
  readonly factory: string;
  /** The package's `INVALID_OPTIONS` error class. */
  readonly error: new (
    issue: OptionIssue,
  ) => Error;
  /** Where the options are documented; defaults to the package README's Options table. */
  readonly docs?: string | undefined;
}

/**
 * Validates `input` against `schema` once, at construction, and returns the parsed value (with
 * defaults). On bad input throws the context's `INVALID_OPTIONS` error, in one format everywhere:
 * `retry(): option "backoff.kind" must be one of "constant", "exponential" (got "linear"). See …`.
 * `undefined` options are validated as `{}`.
 */
export function parseOptions<T>(schema: Schema<T>, input: unknown, context: OptionsContext): T {
  try {
    return schema.parse(input === undefined ? {} : input);
  } catch (error) {
    if (!(error instanceof OptionFailure)) throw error;
    throw new context.error(toIssue(error, context));
  }
}

/**
 * Re-reports an `INVALID_OPTIONS` issue of a nested factory (e.g. the `retry` inside an
 * interceptor) under the outer factory, with the option path prefixed.
 */
export function nestIssue(
  issue: OptionIssue,
  prefix: string,
  context: OptionsContext,
): OptionIssue {
  const option = issue.option === '(options)' ? prefix : `${prefix}.${issue.option}`;
  const rest = issue.message.replace(/^[^"]*"[^"]*"/, '');
  return {
    option,
    received: issue.received,
    message: `${context.factory}: option "${option}"${rest}`,
  };
}

function toIssue(failure: OptionFailure, context: OptionsContext): OptionIssue {
  const option = failure.path === '' ? '(options)' : failure.path;
  return optionIssue(context, option, failure.received, failure.expected);
}

/**
 * An issue in the one `INVALID_OPTIONS` format, for a rule a schema cannot state (one that spans
 * options, or is checked later): `factory: option "name" <rule> (got <value>). See <docs>.`
 * ```ts fragment
 * throw new InvalidOptionsError(optionIssue(context, 'maxDelayMs', 10, 'must be >= baseDelayMs'));
 * ```
 */
export function optionIssue(
  context: Pick<OptionsContext, 'factory' | 'docs'>,
  option: string,
  received: unknown,
  rule: string,
): OptionIssue {
  const docs = context.docs ?? 'the Options table of the package README';
  return {
    option,
    received,
    message: `${context.factory}: option "${option}" ${rule} (got ${describe(received)}). See ${docs}.`,
  };
}

/** A short, safe rendering of a received value for a message. */
export function describe(value: unknown): string {
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'string')
    return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'symbol') return value.toString();
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object' && value !== null) return 'an object';
  return String(value);
}
