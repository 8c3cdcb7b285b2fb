import type { Context, Span, SpanOptions, TextMapPropagator, Tracer } from '@opentelemetry/api';
import type { AlsContextManager } from './context-manager.ts';

/** What the instrumentations share: the tracer, the propagator and the context manager. */
export interface Runtime {
  readonly tracer: Tracer;
  readonly propagator: TextMapPropagator;
  readonly contexts: AlsContextManager;
  /**
   * Starts a span for a request that carries no trace context: `tracer.startSpan(name, options,
   * root)`, except that an unsampled root costs only its ids and the sampler's decision.
   */
  readonly startRoot: (name: string, options: SpanOptions) => Span;
  /** Records that an instrumentation hit an unexpected error (reported by `status()`), never throws. */
  readonly fault: (where: string, error: unknown) => void;
}

/** Switches an instrumentation off again. */
export type Uninstall = () => void;

/** The server span of a request, kept on its `ServerResponse` under this symbol. */
export const SERVER_SPAN: unique symbol = Symbol.for('@ballast/tracing.server-span');
/** The route a framework matched, kept on the `ServerResponse` until the span ends. */
export const ROUTE: unique symbol = Symbol.for('@ballast/tracing.route');

/** The fields of a `ServerResponse` the instrumentations add. */
export interface TracedResponse {
  [SERVER_SPAN]?: Span | undefined;
  [ROUTE]?: string | undefined;
}

/** A span and the context it is active in. */
export interface SpanInContext {
  readonly span: Span;
  readonly context: Context;
}
