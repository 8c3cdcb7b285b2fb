import {
  type Counter,
  metrics,
  type Span,
  SpanStatusCode,
  type Tracer,
  trace,
} from '@opentelemetry/api';
import type { IdempotencyEvent } from './events.ts';

const NAME = '@ballast/idempotency';
/** Span and metric attribute: the outcome (`executed`, `replayed`, `conflict`, `mismatch`, `rejected`, …). */
export const OUTCOME_ATTRIBUTE = 'ballast.idempotency.outcome';
const OUTCOMES = new Set(['executed', 'replayed', 'conflict', 'mismatch', 'rejected', 'fail-open']);

/** Records events on a span, a counter and the user's `onEvent`. */
export class Telemetry {
  readonly #events: Counter;
  readonly #tracer: Tracer;
  readonly #onEvent: ((event: IdempotencyEvent) => void) | undefined;

  constructor(onEvent?: (event: IdempotencyEvent) => void) {
    this.#events = metrics.getMeter(NAME).createCounter('ballast.idempotency.events', {
      description: 'Idempotency outcomes and events, by ballast.idempotency.event',
    });
    // A proxy tracer: it follows an SDK registered later.
    this.#tracer = trace.getTracer(NAME);
    this.#onEvent = onEvent;
  }

  /** Starts the span of one request or call (`idempotency <name>`). */
  startSpan(name: string): Span {
    return this.#tracer.startSpan(`idempotency ${name}`);
  }

  emit(span: Span | undefined, event: IdempotencyEvent): void {
    this.#events.add(1, { 'ballast.idempotency.event': event.type });
    if (span) {
      if (OUTCOMES.has(event.type)) span.setAttribute(OUTCOME_ATTRIBUTE, event.type);
      span.addEvent(
        `idempotency.${event.type}`,
        event.reason ? { 'ballast.idempotency.reason': event.reason } : undefined,
      );
      if (event.type === 'store-error')
        span.setStatus({ code: SpanStatusCode.ERROR, message: String(event.error) });
    }
    if (this.#onEvent) {
      try {
        this.#onEvent(event);
      } catch {
        // a listener must never break the request it observes
      }
    }
  }
}
