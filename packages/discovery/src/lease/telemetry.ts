import { otel } from '@ballast/kernel';
import type { LeaseLostReason } from '../errors.ts';

const SCOPE = '@ballast/discovery';

/** Metric attribute: the election's name. */
export const ATTR_ELECTION = 'ballast.discovery.election';

type Api = NonNullable<ReturnType<typeof otel>>;
type Meter = ReturnType<Api['metrics']['getMeter']>;
type Counter = ReturnType<Meter['createCounter']>;
type Gauge = ReturnType<Meter['createObservableGauge']>;
type Callback = Parameters<Gauge['addCallback']>[0];

/**
 * A campaign's metrics: a gauge `ballast.discovery.leader` (1 while this candidate leads, else 0)
 * and a counter `ballast.discovery.leader.transitions`. Nothing is loaded or recorded until an
 * OpenTelemetry SDK is registered.
 */
export function electionTelemetry(election: string, isLeader: () => boolean) {
  let instruments: { transitions: Counter; unobserve: () => void } | undefined;
  let closed = false;
  const base = { [ATTR_ELECTION]: election };

  const get = () => {
    if (instruments !== undefined || closed) return instruments;
    const api = otel();
    if (api === undefined) return undefined;
    const meter = api.metrics.getMeter(SCOPE);
    const gauge = meter.createObservableGauge('ballast.discovery.leader', {
      description: '1 while this candidate leads the election, else 0',
      unit: '{leader}',
    });
    const callback: Callback = (result) => result.observe(isLeader() ? 1 : 0, base);
    gauge.addCallback(callback);
    instruments = {
      transitions: meter.createCounter('ballast.discovery.leader.transitions', {
        description: 'Times this candidate was elected or lost the lead',
        unit: '{transition}',
      }),
      unobserve: () => gauge.removeCallback(callback),
    };
    return instruments;
  };
  get();

  return {
    elected(): void {
      get()?.transitions.add(1, { ...base, 'ballast.discovery.transition': 'elected' });
    },
    lost(reason: LeaseLostReason): void {
      get()?.transitions.add(1, {
        ...base,
        'ballast.discovery.transition': 'lost',
        'ballast.discovery.reason': reason,
      });
    },
    close(): void {
      closed = true;
      instruments?.unobserve();
    },
  };
}
