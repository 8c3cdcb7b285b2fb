/** What every policy hands the function it runs. */
export interface AttemptContext {
  /** Aborted when the caller aborts or a policy gives up (timeout, hedge loser, …). */
  readonly signal: AbortSignal;
  /** 1 for the first attempt; set by `retry` (and `hedge`), passed through by other policies. */
  readonly attempt: number;
}

/** Options of one `execute` call. */
export interface ExecuteOptions {
  /** Cancels the call: queued callers leave queues, running work sees its signal aborted. */
  readonly signal?: AbortSignal | undefined;
  /** Attempt number handed down by an outer policy (pipelines set this; callers rarely do). */
  readonly attempt?: number | undefined;
}

/** The work a policy runs. */
export type Work<T> = (context: AttemptContext) => T | PromiseLike<T>;

/**
 * A resilience policy: runs `fn` under some rule (breaker, retry, timeout, …).
 * Policies compose with `pipeline(outer, …, inner)`.
 */
export interface Policy {
  execute<T>(fn: Work<T>, options?: ExecuteOptions): Promise<T>;
}
