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
    const code = Object.hasOwn(checked, 'code') ? checked.code : undefined;
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
