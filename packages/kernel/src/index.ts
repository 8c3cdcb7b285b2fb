export { abortError, anySignal, attempt, raceAbort, throwIfAborted } from './abort.ts';
export type { Clock, SleepOptions } from './clock.ts';
export { sleep, systemClock, unrefTimer } from './clock.ts';
export type { ErrorGuard, InvalidOptionsDetails, InvalidOptionsErrorClass } from './errors.ts';
export { BallastError, errorGuard, invalidOptionsError } from './errors.ts';
export type { Listener, ListenerListOptions, Subscription } from './events.ts';
export { ListenerList } from './events.ts';
export type { DispatchControllerLike } from './following-controller.ts';
export { FollowingController } from './following-controller.ts';
export type { OpenTelemetryApi } from './otel.ts';
export { otel } from './otel.ts';
export type { OptionIssue, OptionsContext } from './parse-options.ts';
export { describe, nestIssue, optionIssue, parseOptions } from './parse-options.ts';
export type { HeadersLike, ReplayableRequestLike } from './replayable.ts';
export {
  hasHeader,
  isIdempotentRequest,
  isReplayableBody,
  isReplayableRequest,
} from './replayable.ts';
export type {
  ArrayRules,
  Infer,
  InferShape,
  NumberRules,
  ObjectRules,
  StringRules,
} from './schema.ts';
export { closest, OptionFailure, o, Schema } from './schema.ts';
