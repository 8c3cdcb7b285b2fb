export type { TracingErrorCode } from './errors.ts';
export { InvalidOptionsError, isTracingError, TracingError } from './errors.ts';
export type { Carrier, SpanKindName, WithSpanOptions } from './helpers.ts';
export { bindContext, extract, inject, withSpan } from './helpers.ts';
export type { LogFields, TraceIds } from './log.ts';
export { currentTraceIds, logFields, pinoMixin } from './log.ts';
export type {
  ExporterName,
  InstrumentationName,
  InstrumentationsOptions,
  TracingOptions,
} from './options.ts';
export type { TracingHandle, TracingState, TracingStatus } from './start.ts';
export { activeTracing, startTracing } from './start.ts';
