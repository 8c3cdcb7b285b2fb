// TEMPORARY: the few `@ballast/kernel` names this package uses, with the kernel's final API, until
// the kernel package lands on main. Replaced by `import … from '@ballast/kernel'`; never exported.

const KERNEL_BRAND = Symbol.for('@ballast/kernel.error');

interface BrandedClass {
  readonly brand?: symbol;
  readonly code?: string;
}

/** Base of every Ballast error (kernel API). */
export abstract class BallastError<C extends string = string> extends Error {
  static readonly brand: symbol = KERNEL_BRAND;
  readonly code: C;

  constructor(code: C, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
    Object.defineProperty(this, KERNEL_BRAND, { value: true });
    const brand = (new.target as BrandedClass).brand;
    if (brand !== undefined) Object.defineProperty(this, brand, { value: true });
  }

  static override [Symbol.hasInstance](value: unknown): boolean {
    if (typeof value !== 'object' || value === null) return false;
    // biome-ignore lint/complexity/noThisInStatic: the subclass the check is made against
    return matches(this, value);
  }
}

function matches(cls: BrandedClass, value: object): boolean {
  const brand = cls.brand ?? KERNEL_BRAND;
  if ((value as Record<symbol, unknown>)[brand] !== true) return false;
  const code = Object.hasOwn(cls, 'code') ? cls.code : undefined;
  return code === undefined || (value as { code?: unknown }).code === code;
}

/** `errorGuard<Map>(Base)` → `(e, code?) => e is Map[code]` (kernel API). */
export function errorGuard<M extends Record<string, Error>>(
  base: abstract new (...args: never[]) => Error,
): <K extends keyof M & string = keyof M & string>(error: unknown, code?: K) => error is M[K] {
  const brand = (base as unknown as BrandedClass).brand ?? KERNEL_BRAND;
  return <K extends keyof M & string>(error: unknown, code?: K): error is M[K] =>
    typeof error === 'object' &&
    error !== null &&
    (error as Record<symbol, unknown>)[brand] === true &&
    (code === undefined || (error as { code?: unknown }).code === code);
}

/** One problem found in an options object (kernel API). */
export interface OptionIssue {
  readonly option: string;
  readonly message: string;
  readonly received: unknown;
}

/** What `add()` returns (kernel API). */
export interface Subscription extends Disposable {
  dispose(): void;
}

/** Time source (kernel API). */
export interface Clock {
  now(): number;
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** The real clock; its timers keep the process alive (kernel API). */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};
