import { describe } from '@ballast/kernel';
import { AbortedError, InvalidOptionsError, isBreakerError } from './errors.ts';
import type { AttemptContext, ExecuteOptions } from './policy.ts';

/**
 * Internal cancellation plumbing shared by every policy of the package.
 *
 * Policies hand each other *lazy* contexts instead of `AbortSignal`s: an `AbortController` is
 * only created when the work actually reads `ctx.signal`, so a pipeline whose work never looks
 * at its signal allocates none. A policy that just passes the call through (breaker, bulkhead,
 * fallback, rate limiter) should hand `fn` the result of {@link contextFor} rather than building
 * `{ signal: options.signal, … }`, which would force the signal into existence.
 */

/** Where an abort can come from: a caller's signal, a policy's {@link Scope}, or nowhere. */
export type AbortSource = AbortSignal | Scope | undefined;

type AbortListener = (reason: unknown) => void;

const noop = (): void => {};

/**
 * An abortable scope for one call (or one attempt) that a policy owns: a timeout aborts it at the
 * deadline, a hedge aborts its losers. It is linked to its parent source, and it is itself the
 * {@link AttemptContext} handed to the work.
 */
export class Scope implements AttemptContext {
  readonly attempt: number;
  readonly #parent: AbortSource;
  #controller: AbortController | undefined = undefined;
  #aborted = false;
  #reason: unknown = undefined;
  #listeners: AbortListener[] | undefined = undefined;
  #unlink: (() => void) | undefined = undefined;
  #closed = false;

  constructor(parent: AbortSource, attempt: number) {
    this.#parent = parent;
    this.attempt = attempt;
  }

  /** True once this scope or any of its ancestors was aborted. */
  get aborted(): boolean {
    return this.#aborted || this.#parent?.aborted === true;
  }

  /** The abort reason (own, or the ancestor's). */
  get reason(): unknown {
    return this.#aborted ? this.#reason : this.#parent?.reason;
  }

  /** The work's signal; created on first read. */
  get signal(): AbortSignal {
    let controller = this.#controller;
    if (controller !== undefined) return controller.signal;
    controller = new AbortController();
    this.#controller = controller;
    if (this.aborted) controller.abort(this.reason);
    else this.#link();
    return controller.signal;
  }

  /** Aborts the scope (and the work's signal, if it exists). Idempotent. */
  abort(reason: unknown): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#reason = reason;
    this.#detach();
    this.#controller?.abort(reason);
    const listeners = this.#listeners;
    this.#listeners = undefined;
    if (listeners !== undefined) for (const listener of listeners) listener(reason);
  }

  /**
   * Calls `listener` when this scope aborts (not if it already has: check {@link aborted}
   * first). Returns the unsubscribe function.
   */
  onAbort(listener: AbortListener): () => void {
    if (this.#aborted || this.#closed) return noop;
    this.#link();
    const listeners = this.#listeners;
    if (listeners === undefined) this.#listeners = [listener];
    else listeners.push(listener);
    return () => {
      const list = this.#listeners;
      const index = list === undefined ? -1 : list.indexOf(listener);
      if (index >= 0) list!.splice(index, 1);
    };
  }

  /** The call is over: detach from the parent so that no listener stays behind. */
  close(): void {
    this.#closed = true;
    this.#listeners = undefined;
    this.#detach();
  }

  #link(): void {
    const parent = this.#parent;
    if (this.#unlink === undefined && parent !== undefined && !this.#closed) {
      this.#unlink = subscribe(parent, (reason) => this.abort(reason));
    }
  }

  #detach(): void {
    const unlink = this.#unlink;
    if (unlink !== undefined) {
      this.#unlink = undefined;
      unlink();
    }
  }
}

/**
 * The context a pass-through policy hands the work: the source's signal (created lazily) and
 * an attempt number.
 */
export class Attempt implements AttemptContext {
  readonly attempt: number;
  readonly #source: AbortSource;
  #own: AbortSignal | undefined = undefined;

  constructor(source: AbortSource, attempt: number) {
    this.#source = source;
    this.attempt = attempt;
  }

  /** Where this attempt's aborts come from. */
  static sourceOf(attempt: Attempt): AbortSource {
    return attempt.#source;
  }

  get signal(): AbortSignal {
    const source = this.#source;
    if (source === undefined) {
      this.#own ??= new AbortController().signal;
      return this.#own;
    }
    return source instanceof Scope ? source.signal : source;
  }
}

/** The abort source behind `options`, without creating a signal that nobody has read yet. */
export function sourceOf(options: ExecuteOptions | undefined): AbortSource {
  if (options === undefined) return undefined;
  if (options instanceof Scope) return options;
  if (options instanceof Attempt) return Attempt.sourceOf(options);
  return options.signal;
}

/** The attempt number carried by `options` (1 when none). */
export function attemptOf(options: ExecuteOptions | undefined): number {
  return options?.attempt ?? 1;
}

/**
 * The context to hand `fn` when a policy neither aborts nor renumbers the call: `options` itself
 * when it already is a lazy context from another policy, a new lazy one otherwise.
 */
export function contextFor(options: ExecuteOptions | undefined): AttemptContext {
  if (options instanceof Scope || options instanceof Attempt) return options;
  return new Attempt(options?.signal, options?.attempt ?? 1);
}

/** Calls `listener` once when `source` aborts; returns the unsubscribe function. */
export function subscribe(source: AbortSignal | Scope, listener: AbortListener): () => void {
  if (source instanceof Scope) return source.onAbort(listener);
  if (source.aborted) return noop;
  const onAbort = () => listener(source.reason);
  source.addEventListener('abort', onAbort, { once: true });
  return () => source.removeEventListener('abort', onAbort);
}

/**
 * The error to reject with when `source` aborted the call: the reason itself when a policy of
 * this package aborted it (e.g. a `TimeoutError`), else an `AbortedError` whose cause is the reason.
 */
export function abortError(source: AbortSource): unknown {
  const reason = source?.reason;
  return isBreakerError(reason) ? reason : new AbortedError(reason);
}

/** The signal of `source`, created now if it is a {@link Scope} nobody asked yet. */
export function signalOf(source: AbortSource): AbortSignal | undefined {
  return source instanceof Scope ? source.signal : source;
}

/**
 * What is wrong with the arguments of an `execute(fn, options)` call, or `undefined`: `fn` must be
 * a function, `options` an object whose `signal`, if any, is an `AbortSignal`. Contexts handed down
 * by another policy of this package are trusted as they are (a cheap check on every call).
 */
export function callError(fn: unknown, options: unknown): InvalidOptionsError | undefined {
  if (typeof fn !== 'function') {
    return new InvalidOptionsError({
      option: 'fn',
      received: fn,
      message: `execute(): the work must be a function (got ${describe(fn)}); pass (context) => work(context.signal).`,
    });
  }
  if (options === undefined || options instanceof Scope || options instanceof Attempt)
    return undefined;
  if (typeof options !== 'object' || options === null) {
    return new InvalidOptionsError({
      option: '(options)',
      received: options,
      message: `execute(): the options must be an object such as { signal } (got ${describe(options)}).`,
    });
  }
  const signal = (options as { signal?: unknown }).signal;
  if (signal === undefined || isSignal(signal)) return undefined;
  return new InvalidOptionsError({
    option: 'signal',
    received: signal,
    message: `execute(): option "signal" must be an AbortSignal (got ${describe(signal)}); pass controller.signal.`,
  });
}

function isSignal(value: unknown): boolean {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as AbortSignal).aborted === 'boolean' &&
    typeof (value as AbortSignal).addEventListener === 'function'
  );
}
