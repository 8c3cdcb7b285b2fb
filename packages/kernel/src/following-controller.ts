/**
 * The controller an undici dispatch handler is given, as far as {@link FollowingController} uses it
 * (structural: the kernel does not depend on undici).
 */
export interface DispatchControllerLike {
  readonly aborted: boolean;
  readonly paused: boolean;
  readonly reason: Error | null;
  readonly rawHeaders?: unknown;
  readonly rawTrailers?: unknown;
  abort(reason: Error): void;
  pause(): void;
  resume(): void;
}

/**
 * The controller an interceptor hands its caller's handler when one request may take several
 * attempts (a retry, a resend with a new token): it follows the current attempt's controller.
 * A pause holds across attempts (the next attempt starts paused); an abort is recorded once and
 * passed to `onAbort` (by default: abort the current attempt), so the interceptor can tell the
 * caller's abort from its own.
 */
export class FollowingController<C extends DispatchControllerLike = DispatchControllerLike> {
  #target: C | undefined = undefined;
  #paused = false;
  #reason: Error | null = null;
  readonly #onAbort: (reason: Error) => void;

  constructor(onAbort?: (reason: Error) => void) {
    this.#onAbort = onAbort ?? ((reason) => this.#target?.abort(reason));
  }

  /** The current attempt's controller, if one has started. */
  get target(): C | undefined {
    return this.#target;
  }
  /** True once the caller aborted (not when an attempt was aborted by the interceptor). */
  get aborted(): boolean {
    return this.#reason !== null;
  }
  get paused(): boolean {
    return this.#paused;
  }
  /** The caller's abort reason. */
  get reason(): Error | null {
    return this.#reason;
  }
  get rawHeaders(): NonNullable<C['rawHeaders']> | null {
    return this.#target?.rawHeaders ?? null;
  }
  get rawTrailers(): NonNullable<C['rawTrailers']> | null {
    return this.#target?.rawTrailers ?? null;
  }

  /** Follows `target` from now on; it is paused at once if the caller paused. */
  follow(target: C): void {
    this.#target = target;
    if (this.#paused) target.pause();
  }

  /** Follows nothing (between attempts). */
  release(): void {
    this.#target = undefined;
  }

  /** The caller aborts: recorded once, then handed to `onAbort`. */
  abort(reason: Error): void {
    if (this.#reason !== null) return;
    this.#reason = reason;
    this.#onAbort(reason);
  }
  pause(): void {
    this.#paused = true;
    this.#target?.pause();
  }
  resume(): void {
    this.#paused = false;
    this.#target?.resume();
  }
}
