import { o } from '@ballast/kernel';
import { callError, contextFor } from './abort.ts';
import { isBreakerError } from './errors.ts';
import type { ExecuteOptions, Work } from './policy.ts';
import { invalidOption, parseOptions, predicateSchema } from './validate.ts';

/** What the fallback is computed from. */
export type FallbackOutcome = { readonly error: unknown } | { readonly result: unknown };

/** Options of {@link fallback}. */
export interface FallbackOptions<F> {
  /** The value served instead of a failure. Give `value` or `fn`, not both. */
  value?: F | undefined;
  /** Computes the value served instead of a failure from what went wrong. */
  fn?: ((outcome: FallbackOutcome) => F | PromiseLike<F>) | undefined;
  /** Which errors are replaced. Default: every error except this package's `ABORTED`. */
  handleError?: ((error: unknown) => boolean) | undefined;
  /** Which results are replaced too (e.g. `(res) => res.statusCode >= 500`). Default: none. */
  handleResult?: ((result: unknown) => boolean) | undefined;
}

const fallbackSchema = o.object({
  value: o.unknown(),
  fn: o.fn<(outcome: FallbackOutcome) => unknown>().optional(),
  handleError: predicateSchema.optional(),
  handleResult: predicateSchema.optional(),
});

function replaceableByDefault(error: unknown): boolean {
  return !isBreakerError(error, 'ABORTED');
}

/**
 * A policy that serves a fallback value instead of a failure. Its result type is the work's
 * type or `F`; a `pipeline` that contains it carries `F` into its own result type.
 */
export class FallbackPolicy<F> {
  /** Type-level marker read by `pipeline` to widen its result type; never set at run time. */
  declare readonly '~fallback': F;
  readonly #compute: (outcome: FallbackOutcome) => F | PromiseLike<F>;
  readonly #handleError: (error: unknown) => boolean;
  readonly #handleResult: ((result: unknown) => boolean) | undefined;

  constructor(options: FallbackOptions<F>) {
    const parsed = parseOptions(fallbackSchema, options, 'fallback()');
    const hasValue = typeof options === 'object' && options !== null && 'value' in options;
    if (hasValue === (parsed.fn !== undefined)) {
      throw invalidOption(
        'fallback()',
        'value',
        options?.value,
        'needs exactly one of `value` or `fn`',
      );
    }
    const value = options.value as F;
    this.#compute = options.fn ?? (() => value);
    this.#handleError = parsed.handleError ?? replaceableByDefault;
    this.#handleResult = parsed.handleResult;
  }

  /** Runs `fn`; returns the fallback when it throws a handled error or returns a handled result. */
  async execute<T>(fn: Work<T>, options?: ExecuteOptions): Promise<T | F> {
    const invalid = callError(fn, options);
    if (invalid !== undefined) throw invalid; // a programming error, never replaced by the fallback
    let result: T;
    try {
      result = await fn(contextFor(options));
    } catch (error) {
      if (!this.#handleError(error)) throw error;
      return await this.#compute({ error });
    }
    if (this.#handleResult?.(result)) return await this.#compute({ result });
    return result;
  }
}

/**
 * Creates a {@link FallbackPolicy}: `fallback({ value: [] })` or
 * `fallback({ fn: ({ error }) => cached.get(id) })`.
 * @throws InvalidOptionsError (code `INVALID_OPTIONS`) naming the bad option.
 */
export function fallback<F>(options: FallbackOptions<F>): FallbackPolicy<F> {
  return new FallbackPolicy(options);
}
