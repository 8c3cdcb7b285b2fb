import { raceAbort } from '@ballast/kernel';
/** One running token request and who waits for it. @internal */
export interface Flight<T> {
  readonly promise: Promise<T>;
  readonly controller: AbortController;
  /** Callers waiting; when the last one aborts (and no background refresh holds it), the request is cancelled. */
  waiters: number;
  /** A background refresh wants the result even when every caller has gone. */
  background: boolean;
}

/**
 * At most one request at a time: concurrent callers share it. A caller that aborts stops waiting;
 * the request itself is cancelled only when nobody (and no background refresh) still wants it.
 * @internal
 */
export class SingleFlight<T> {
  #current: Flight<T> | undefined;

  /** Joins the running request, or starts `run` (its signal aborts when the request is cancelled). */
  join(run: (signal: AbortSignal) => Promise<T>, background: boolean): Flight<T> {
    const running = this.#current;
    if (running !== undefined) {
      if (background) running.background = true;
      return running;
    }
    const controller = new AbortController();
    const flight: Flight<T> = {
      controller,
      waiters: 0,
      background,
      promise: run(controller.signal),
    };
    this.#current = flight;
    const clear = (): void => {
      if (this.#current === flight) this.#current = undefined;
    };
    flight.promise.then(clear, clear);
    return flight;
  }

  /**
   * Waits for `flight`; when `signal` aborts first, rejects with `aborted(reason)` and, if this
   * was the last waiter of a foreground request, cancels it.
   */
  wait(
    flight: Flight<T>,
    signal: AbortSignal | undefined,
    aborted: (reason: unknown) => Error,
  ): Promise<T> {
    flight.waiters++;
    return raceAbort(flight.promise, signal, (aborting) => {
      flight.waiters--;
      if (flight.waiters === 0 && !flight.background) flight.controller.abort(aborting.reason);
      return aborted(aborting.reason);
    });
  }

  /** Cancels the running request, if any, with `reason`. */
  abort(reason: unknown): void {
    this.#current?.controller.abort(reason);
  }
}
