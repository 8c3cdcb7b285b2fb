import { ListenerList, type OpenTelemetryApi, otel } from '@ballast/kernel';
import { InvalidOptionsError } from './errors.ts';
import type { IdempotencyEvent } from './events.ts';

const NAME = '@ballast/idempotency';
/** Span and metric attribute: the outcome (`executed`, `replayed`, `conflict`, `mismatch`, `rejected`, …). */
export const OUTCOME_ATTRIBUTE = 'ballast.idempotency.outcome';
const OUTCOMES = new Set(['executed', 'replayed', 'conflict', 'mismatch', 'rejected', 'fail-open']);

type Api = OpenTelemetryApi;
/** The span of one request or call (a structural subset of the OTel `Span`). */
export type TelemetrySpan = ReturnType<ReturnType<Api['trace']['getTracer']>['startSpan']>;
type Counter = ReturnType<ReturnType<Api['metrics']['getMeter']>['createCounter']>;

// One counter per loaded API copy, created when the first event is recorded (never at import).
let counterOf: { api: Api; counter: Counter } | undefined;

function counter(api: Api): Counter {
  if (counterOf?.api !== api) {
    const created = api.metrics.getMeter(NAME).createCounter('ballast.idempotency.events', {
      description: 'Idempotency outcomes and events, by ballast.idempotency.event',
    });
    counterOf = { api, counter: created };
  }
  return counterOf.counter;
}

/**
 * Records events on a span, a counter and the listeners. `@opentelemetry/api` is reached only
 * through the kernel's `otel()`: nothing is loaded at import, and without the API (or without a
 * registered SDK) spans and metrics are skipped.
 */
export class Telemetry {
  readonly listeners = new ListenerList<IdempotencyEvent>({ error: InvalidOptionsError });

  /**
   * True when an event would go anywhere (a listener, or an SDK registered with the OTel API):
   * otherwise callers skip building the event at all (no allocation per request).
   */
  get active(): boolean {
    return this.listeners.size > 0 || otel() !== undefined;
  }

  /** Starts the span of one request or call (`idempotency <name>`), or none without an SDK. */
  startSpan(name: string): TelemetrySpan | undefined {
    const api = otel();
    return api?.trace.getTracer(NAME).startSpan(`idempotency ${name}`);
  }

  emit(span: TelemetrySpan | undefined, event: IdempotencyEvent): void {
    const api = otel();
    if (api) {
      counter(api).add(1, { 'ballast.idempotency.event': event.type });
      if (span) {
        if (OUTCOMES.has(event.type)) span.setAttribute(OUTCOME_ATTRIBUTE, event.type);
        span.addEvent(
          `idempotency.${event.type}`,
          event.reason ? { 'ballast.idempotency.reason': event.reason } : undefined,
        );
        if (event.type === 'store-error')
          span.setStatus({ code: api.SpanStatusCode.ERROR, message: String(event.error) });
      }
    }
    if (this.listeners.size > 0) this.listeners.emit(event);
  }
}
