import { otel } from '@ballast/kernel';
import type { Attributes, Counter, MeterProvider } from '@opentelemetry/api';

/** Tracer and meter name (the package name). */
export const INSTRUMENTATION_NAME = '@ballast/breaker';

/** Attribute names the breaker emits. */
export const ATTR_NAME = 'ballast.breaker.name';
export const ATTR_OUTCOME = 'ballast.breaker.outcome';
export const ATTR_SLOW = 'ballast.breaker.slow';
export const ATTR_STATE = 'ballast.breaker.state';
export const ATTR_PREVIOUS_STATE = 'ballast.breaker.previous_state';
export const ATTR_REASON = 'ballast.breaker.reason';

/** Outcome of one call, as counted by `ballast.breaker.calls`. */
export type CallOutcome = 'success' | 'failure' | 'ignored' | 'rejected';
const OUTCOMES: readonly CallOutcome[] = ['success', 'failure', 'ignored', 'rejected'];

/** What the state gauge reads from a breaker. */
export interface GaugeSource {
  readonly name: string;
  /** Numeric state, see the Observability section of the README. */
  readonly stateCode: number;
}

interface Instruments {
  readonly calls: Counter;
  readonly live: Set<WeakRef<GaugeSource>>;
}

// Instruments are created once per meter provider; `null` means the provider is the no-op one.
let cachedProvider: MeterProvider | undefined;
let cached: Instruments | null = null;

function instruments(): Instruments | null {
  const api = otel(); // undefined: @opentelemetry/api is not installed, or no SDK registered
  if (api === undefined) return null;
  const provider = api.metrics.getMeterProvider();
  if (provider === cachedProvider) return cached;
  cachedProvider = provider;
  const meter = provider.getMeter(INSTRUMENTATION_NAME);
  if (meter === api.createNoopMeter()) {
    cached = null;
    return null;
  }
  const live = new Set<WeakRef<GaugeSource>>();
  const calls = meter.createCounter('ballast.breaker.calls', {
    description:
      'Calls through circuit breakers, by outcome (success, failure, ignored, rejected).',
    unit: '{call}',
  });
  const gauge = meter.createObservableGauge('ballast.breaker.state', {
    description:
      'State of each circuit breaker: 0 CLOSED, 1 OPEN, 2 HALF_OPEN, 3 FORCED_OPEN, 4 DISABLED, 5 METRICS_ONLY.',
  });
  gauge.addCallback((result) => {
    for (const ref of live) {
      const source = ref.deref();
      if (source === undefined) live.delete(ref);
      else result.observe(source.stateCode, { [ATTR_NAME]: source.name });
    }
  });
  cached = { calls, live };
  return cached;
}

/**
 * One breaker's link to the metrics SDK: precomputed attribute sets and its entry in the state
 * gauge. Only created when an SDK is registered, so a breaker without one pays a field check.
 */
export class BreakerTelemetry {
  readonly #calls: Counter;
  readonly #attributes: Attributes[];
  readonly #live: Set<WeakRef<GaugeSource>>;
  readonly #ref: WeakRef<GaugeSource>;

  constructor(source: GaugeSource, found: Instruments) {
    this.#calls = found.calls;
    this.#live = found.live;
    this.#ref = new WeakRef(source);
    this.#live.add(this.#ref);
    this.#attributes = [];
    for (const outcome of OUTCOMES) {
      for (const slow of [false, true]) {
        this.#attributes.push(
          Object.freeze({ [ATTR_NAME]: source.name, [ATTR_OUTCOME]: outcome, [ATTR_SLOW]: slow }),
        );
      }
    }
  }

  /** Counts one call; `outcome` indexes {@link OUTCOMES}. */
  count(outcome: number, slow: boolean): void {
    this.#calls.add(1, this.#attributes[outcome * 2 + (slow ? 1 : 0)]);
  }

  /** Leaves the state gauge. */
  close(): void {
    this.#live.delete(this.#ref);
  }
}

/** The breaker's telemetry when a metrics SDK is registered, else `null`. */
export function telemetryFor(source: GaugeSource): BreakerTelemetry | null {
  const found = instruments();
  return found === null ? null : new BreakerTelemetry(source, found);
}

/** Adds a `ballast.breaker.state_change` event to the active span, if there is one. */
export function spanStateChange(name: string, from: string, to: string, reason: string): void {
  const span = otel()?.trace.getActiveSpan();
  if (span === undefined || !span.isRecording()) return;
  span.addEvent('ballast.breaker.state_change', {
    [ATTR_NAME]: name,
    [ATTR_PREVIOUS_STATE]: from,
    [ATTR_STATE]: to,
    [ATTR_REASON]: reason,
  });
}
