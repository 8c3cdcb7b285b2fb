import { otel } from '@ballast/kernel';
import type { ResolverStatus } from './resolver.ts';

const SCOPE = '@ballast/discovery';

/** Span and metric attribute names. */
export const ATTR_SERVICE = 'ballast.discovery.service';
export const ATTR_INSTANCE = 'ballast.discovery.instance';

type Api = NonNullable<ReturnType<typeof otel>>;
type Counter = ReturnType<ReturnType<Api['metrics']['getMeter']>['createCounter']>;

/**
 * A resolver's metrics: counters for picks, ejections and panics, and gauges (instances per
 * state, staleness) read from `status()` on collection (registry errors are counted by the
 * registries themselves, as `ballast.discovery.registry.errors`). Nothing is loaded or recorded until an
 * OpenTelemetry SDK is registered.
 */
export function resolverTelemetry(service: string, balancer: string, status: () => ResolverStatus) {
  let instruments:
    | {
        picks: Counter;
        ejections: Counter;
        panics: Counter;
        unobserve: () => void;
      }
    | undefined;
  let closed = false;
  const base = { [ATTR_SERVICE]: service };

  const get = () => {
    if (instruments !== undefined || closed) return instruments;
    const api = otel();
    if (api === undefined) return undefined;
    const meter = api.metrics.getMeter(SCOPE);
    const instancesGauge = meter.createObservableGauge('ballast.discovery.instances', {
      description: 'Instances of a service known to the resolver, by state',
      unit: '{instance}',
    });
    const stalenessGauge = meter.createObservableGauge('ballast.discovery.staleness', {
      description: 'How long the served list has been stale (registry unreachable), 0 when fresh',
      unit: 'ms',
    });
    const callback = (result: {
      observe(value: number, attributes?: Record<string, string>): void;
    }): void => {
      const s = status();
      result.observe(s.available, { ...base, 'ballast.discovery.state': 'available' });
      result.observe(s.ejected, { ...base, 'ballast.discovery.state': 'ejected' });
      result.observe(s.instances - s.available - s.ejected, {
        ...base,
        'ballast.discovery.state': 'unhealthy',
      });
    };
    const staleness = (result: {
      observe(value: number, attributes?: Record<string, string>): void;
    }) => result.observe(status().staleForMs, base);
    instancesGauge.addCallback(callback);
    stalenessGauge.addCallback(staleness);
    instruments = {
      picks: meter.createCounter('ballast.discovery.picks', {
        description: 'Instances chosen for a request',
        unit: '{pick}',
      }),
      ejections: meter.createCounter('ballast.discovery.ejections', {
        description: 'Instances ejected by outlier detection',
        unit: '{ejection}',
      }),
      panics: meter.createCounter('ballast.discovery.panics', {
        description: 'Times the panic threshold spread traffic over every instance',
        unit: '{panic}',
      }),
      unobserve: () => {
        instancesGauge.removeCallback(callback);
        stalenessGauge.removeCallback(staleness);
      },
    };
    return instruments;
  };

  return {
    picked(instance: string): void {
      get()?.picks.add(1, { ...base, [ATTR_INSTANCE]: instance });
    },
    ejected(instance: string): void {
      get()?.ejections.add(1, { ...base, [ATTR_INSTANCE]: instance });
    },
    panic(on: boolean): void {
      if (on) get()?.panics.add(1, base);
    },
    close(): void {
      closed = true;
      instruments?.unobserve();
      instruments = undefined;
    },
    balancer,
  };
}

/**
 * Records on the active span (the caller's span around the HTTP call, if any) which service and
 * instance served the request.
 */
export function annotateActiveSpan(service: string, instance: string, attempt: number): void {
  const api = otel();
  if (api === undefined) return;
  const span = api.trace.getActiveSpan();
  if (span === undefined || !span.isRecording()) return;
  span.setAttributes({ [ATTR_SERVICE]: service, [ATTR_INSTANCE]: instance });
  if (attempt > 1) {
    span.addEvent('ballast.discovery.retry', {
      [ATTR_SERVICE]: service,
      [ATTR_INSTANCE]: instance,
      'ballast.discovery.attempt': attempt,
    });
  }
}
