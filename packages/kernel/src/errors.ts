import type { OptionIssue } from './parse-options.ts';

/** Set on every error of every Ballast package, whichever copy of whichever package threw it. */
const BALLAST_BRAND = Symbol.for('@ballast/kernel.error');

/** A class of errors that {@link BallastError}'s `instanceof` check and {@link errorGuard} understand. */
interface ErrorClass {
  readonly brand?: symbol;
  readonly code?: string;
}

/**
 * The base of every error a Ballast package throws: a stable `code`, a message that says what to
 * do, and a `cause`. Each package subclasses it once with a static `brand`
 * (`Symbol.for('@ballast/<name>.error')`), then once per code with a static `code`.
 *
 * `instanceof` is decided by brand and code, not by prototype identity, so it still works when two
 * copies of a package are installed (two versions, or its ESM and CJS builds in one process).
 */
export abstract class BallastError<C extends string = string> extends Error {
  /** Brand of the package's errors; set as a static on the package's base class. */
  static readonly brand: symbol = BALLAST_BRAND;
  /** The code of a per-code subclass; set as a static on each subclass. */
  declare static readonly code?: string;
  /** Stable machine-readable code, e.g. `BREAKER_OPEN`. */
  readonly code: C;

  constructor(code: C, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
    const brand = (new.target as ErrorClass).brand;
    Object.defineProperty(this, BALLAST_BRAND, { value: true });
    if (brand !== undefined && brand !== BALLAST_BRAND)
      Object.defineProperty(this, brand, { value: true });
  }

  /**
   * `error instanceof BreakerError` is true for any breaker error from any installed copy;
   * `error instanceof TimeoutError` additionally requires the class's own `code`.
   */
  static override [Symbol.hasInstance](value: unknown): boolean {
    if (typeof value !== 'object' || value === null) return false;
    // `this` is the class on the right of `instanceof`: a package base or a per-code subclass.
    // biome-ignore lint/complexity/noThisInStatic: the checked class, not BallastError
    const checked = this as ErrorClass;
    const brand = checked.brand ?? BALLAST_BRAND;
    if ((value as Record<symbol, unknown>)[brand] !== true) return false;
    // Inherited on purpose: `class InvalidOptionsError extends invalidOptionsError(Base) {}` takes
    // its `code` from the class the factory made, and must still check it.
    const code = checked.code;
    return code === undefined || (value as { code?: unknown }).code === code;
  }
}

/** A package's `isXError` guard: any of its errors, or the error of one code, narrowed to its class. */
export interface ErrorGuard<M extends Record<string, Error>> {
  /** True when `error` is any error of the package, from any installed copy. */
  (error: unknown): error is M[keyof M];
  /** True when `error` is the package's error with this `code`; narrows to its class. */
  <K extends keyof M & string>(error: unknown, code: K): error is M[K];
}

/**
 * Builds a package's `isXError(error, code?)` guard from its base class and its code→class map,
 * so that `isBreakerError(e, 'TIMEOUT')` narrows `e` to `TimeoutError` without a cast.
 */
export function errorGuard<M extends Record<string, Error>>(
  base: abstract new (...args: never[]) => BallastError,
): ErrorGuard<M> {
  const brand = (base as unknown as ErrorClass).brand ?? BALLAST_BRAND;
  return ((error: unknown, code?: string): boolean =>
    typeof error === 'object' &&
    error !== null &&
    (error as Record<symbol, unknown>)[brand] === true &&
    (code === undefined || (error as { code?: unknown }).code === code)) as ErrorGuard<M>;
}

/** What an `INVALID_OPTIONS` error carries besides its message, in every package. */
export interface InvalidOptionsDetails {
  /** Always `INVALID_OPTIONS`. */
  readonly code: 'INVALID_OPTIONS';
  /**
   * Dotted path of the offending option, e.g. `budget.ratio` or `sources[2]`; `(options)` when
   * the options object itself is wrong. Fix the option it names.
   */
  readonly option: string;
  /** The value that was passed for that option, as received (not a copy). */
  readonly received: unknown;
}

/** The class {@link invalidOptionsError} returns: a package's `INVALID_OPTIONS` error. */
export interface InvalidOptionsErrorClass<E extends BallastError> {
  /**
   * @param issue which option, the value received and the message (from `parseOptions` or
   *   {@link optionIssue}).
   * @param options `cause`: the error that made the option unusable, if any.
   */
  new (issue: OptionIssue, options?: { cause?: unknown }): E & InvalidOptionsDetails;
  /** The code the class stands for. */
  readonly code: 'INVALID_OPTIONS';
  /** The brand of the package's base class. */
  readonly brand: symbol;
}

/**
 * Makes a package's `INVALID_OPTIONS` class from its base class, so that the class is written
 * once, here, and every package's carries `.option` and `.received` alike:
 * ```ts fragment
 * export class InvalidOptionsError extends invalidOptionsError(BreakerError) {}
 * ```
 * The subclass keeps the package's brand (so `instanceof` and `isXError` work across two installed
 * copies) and its own name; list it in the `errorGuard` map under `INVALID_OPTIONS`.
 */
export function invalidOptionsError<E extends BallastError>(
  base: abstract new (code: 'INVALID_OPTIONS', message: string, options?: { cause?: unknown }) => E,
): InvalidOptionsErrorClass<E> {
  // The base is abstract in its type only (BallastError's constructor has no abstract members to
  // fill in), so a concrete subclass of it can be declared here.
  const Base = base as unknown as ErrorClass &
    (new (
      code: string,
      message: string,
      options?: { cause?: unknown },
    ) => BallastError);
  class InvalidOptionsError extends Base {
    static override readonly code = 'INVALID_OPTIONS';
    readonly option: string;
    readonly received: unknown;
    constructor(issue: OptionIssue, options?: { cause?: unknown }) {
      super('INVALID_OPTIONS', issue.message, options);
      this.option = issue.option;
      this.received = issue.received;
    }
  }
  return InvalidOptionsError as unknown as InvalidOptionsErrorClass<E>;
}
