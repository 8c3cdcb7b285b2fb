import { attempt } from '@ballast/kernel';
import { callError, contextFor } from './abort.ts';
import { InvalidOptionsError } from './errors.ts';
import type { AttemptContext, ExecuteOptions, Policy, Work } from './policy.ts';

/** A policy that may replace failures by a value of type `F` (a `fallback`, or a pipeline holding one). */
export interface WideningPolicy<F> {
  /** Type-level marker of the fallback type; never set at run time. */
  readonly '~fallback': F;
  execute<T>(fn: Work<T>, options?: ExecuteOptions): Promise<T | F>;
}

/** Anything `pipeline` accepts: a {@link Policy} or a policy that widens the result type. */
export type AnyPolicy = Policy | WideningPolicy<unknown>;

/** The union of the fallback types of `P` (never when there is no fallback). */
export type FallbackTypes<P extends readonly AnyPolicy[]> = {
  [K in keyof P]: P[K] extends { readonly '~fallback': infer F } ? F : never;
}[number];

/**
 * Policies composed outer to inner: `pipeline(timeout, retry, breaker).execute(fn)` runs
 * `timeout.execute(() => retry.execute(() => breaker.execute(fn)))`. The caller's `signal` reaches
 * `fn` through every layer; `fn` receives `{ signal, attempt }`.
 */
export class Pipeline<F = never> {
  /** Type-level marker of the fallback types inside; never set at run time. */
  declare readonly '~fallback': F;
  /** The composed policies, outermost first. */
  readonly policies: readonly AnyPolicy[];

  constructor(policies: readonly AnyPolicy[]) {
    policies.forEach((policy, index) => {
      if (typeof (policy as { execute?: unknown } | null)?.execute !== 'function') {
        throw new InvalidOptionsError({
          option: `policies[${index}]`,
          received: policy,
          message: `pipeline(): argument ${index + 1} is not a policy (an object with an execute(fn, options) method); pass retry(), timeout(), circuitBreaker(), … instances.`,
        });
      }
    });
    this.policies = [...policies];
  }

  /** Runs `fn` through every policy, outer to inner. */
  execute<T>(fn: Work<T>, options?: ExecuteOptions): Promise<T | F> {
    const invalid = callError(fn, options);
    if (invalid !== undefined) return Promise.reject(invalid);
    return this.#run(0, fn, options) as Promise<T | F>;
  }

  #run<T>(index: number, fn: Work<T>, options: ExecuteOptions | undefined): Promise<unknown> {
    const policies = this.policies;
    if (index === policies.length - 1) return policies[index]!.execute(fn, options);
    if (index >= policies.length) return attempt(fn, contextFor(options));
    return policies[index]!.execute(
      (context: AttemptContext) => this.#run(index + 1, fn, context),
      options,
    );
  }
}

/**
 * Composes `policies` outer to inner: `pipeline(timeout({ timeoutMs: 2_000 }), retry(), breaker)`.
 * The result type flows through, widened by any `fallback` inside.
 */
export function pipeline<const P extends readonly AnyPolicy[]>(
  ...policies: P
): Pipeline<FallbackTypes<P>> {
  return new Pipeline<FallbackTypes<P>>(policies);
}
