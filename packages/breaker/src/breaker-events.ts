import { ListenerList } from '@ballast/kernel';
import {
  type BreakerIsolatedError,
  type BreakerOpenError,
  type BreakerStateName,
  InvalidOptionsError,
} from './errors.ts';

/** Why the breaker changed state. */
export type TransitionReason =
  | 'failure-rate'
  | 'slow-call-rate'
  | 'consecutive-failures'
  | 'open-elapsed'
  | 'trials-passed'
  | 'trials-failed'
  | 'half-open-timeout'
  | 'manual'
  | 'isolated'
  | 'isolation-released'
  | 'hydrated';

/** Emitted by `CircuitBreaker.onStateChange`. */
export interface StateChangeEvent {
  readonly breaker: string;
  readonly from: BreakerStateName;
  readonly to: BreakerStateName;
  readonly reason: TransitionReason;
}

/** Emitted by `CircuitBreaker.onSuccess`. */
export interface SuccessEvent {
  readonly breaker: string;
  /** How long the call took (NaN for a call that started before the first listener subscribed). */
  readonly durationMs: number;
  /** True when the call was slower than `slowCallDurationMs`. */
  readonly slow: boolean;
}

/** Emitted by `CircuitBreaker.onFailure`. */
export interface FailureEvent extends SuccessEvent {
  /** The error the work threw, or `undefined` when a result counted as a failure. */
  readonly error: unknown;
  /** The result that `isFailureResult` flagged, when the work did not throw. */
  readonly result: unknown;
  /** True when the failure is a result flagged by `isFailureResult`. */
  readonly fromResult: boolean;
}

/** Emitted by `CircuitBreaker.onIgnored`: an error that `ignoreError` excluded. */
export interface IgnoredEvent extends SuccessEvent {
  readonly error: unknown;
}

/** Emitted by `CircuitBreaker.onRejected`: a call refused without running. */
export interface RejectedEvent {
  readonly breaker: string;
  readonly error: BreakerOpenError | BreakerIsolatedError;
}

/** Emitted by `CircuitBreaker.onSlowCall`. */
export interface SlowCallEvent {
  readonly breaker: string;
  readonly durationMs: number;
  /** True when the slow call also failed. */
  readonly failed: boolean;
}

/** The listener lists of one breaker, created on its first subscription. */
export class BreakerEvents {
  /** True when some listener wants call durations (then every call reads the clock). */
  timed = false;
  readonly stateChange = new ListenerList<StateChangeEvent>({ error: InvalidOptionsError });
  readonly success: ListenerList<SuccessEvent>;
  readonly failure: ListenerList<FailureEvent>;
  readonly ignored: ListenerList<IgnoredEvent>;
  readonly rejected = new ListenerList<RejectedEvent>({ error: InvalidOptionsError });
  readonly slowCall: ListenerList<SlowCallEvent>;

  constructor() {
    const update = (): void => {
      this.timed =
        this.success.size + this.failure.size + this.ignored.size + this.slowCall.size > 0;
    };
    this.success = new ListenerList({ onChange: update, error: InvalidOptionsError });
    this.failure = new ListenerList({ onChange: update, error: InvalidOptionsError });
    this.ignored = new ListenerList({ onChange: update, error: InvalidOptionsError });
    this.slowCall = new ListenerList({ onChange: update, error: InvalidOptionsError });
  }

  /** Every list, to clear them all. */
  all(): { clear(): void }[] {
    return [
      this.stateChange,
      this.success,
      this.failure,
      this.ignored,
      this.rejected,
      this.slowCall,
    ];
  }
}
