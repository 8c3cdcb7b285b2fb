import { otel } from '@ballast/kernel';

const NAME = '@ballast/config';

type Api = NonNullable<ReturnType<typeof otel>>;
interface Instruments {
  readonly api: Api;
  readonly provider: unknown;
  readonly reloads: import('@opentelemetry/api').Counter;
  readonly version: import('@opentelemetry/api').Gauge;
}

let instruments: Instruments | undefined;

/** The instruments of the meter provider registered now (recreated if an SDK registers later). */
function get(): Instruments | undefined {
  const api = otel();
  if (!api) return undefined;
  const provider = api.metrics.getMeterProvider();
  if (instruments?.provider !== provider) {
    const meter = provider.getMeter(NAME);
    instruments = {
      api,
      provider,
      reloads: meter.createCounter('ballast.config.reloads', {
        description: 'Configuration changes validated, by outcome (applied or rejected)',
      }),
      version: meter.createGauge('ballast.config.version', {
        description: 'Version of the configuration snapshot in use',
      }),
    };
  }
  return instruments;
}

/** What one reload did, for the counter, the gauge and a `ballast.config.reload` span with its events. */
export interface ReloadRecord {
  readonly outcome: 'applied' | 'rejected';
  readonly reason: string;
  readonly source: string | undefined;
  readonly version: number;
  readonly changedPaths?: readonly string[] | undefined;
  readonly issueCount?: number | undefined;
}

/** Records a reload: metrics always (when the API is installed), a span only when a tracer records. */
export function recordReload(record: ReloadRecord): void {
  const t = get();
  if (!t) return;
  const outcome = { 'ballast.config.outcome': record.outcome };
  t.reloads.add(1, outcome);
  if (record.outcome === 'applied') t.version.record(record.version);
  const span = t.api.trace.getTracer(NAME).startSpan('ballast.config.reload', {
    attributes: {
      'ballast.config.reason': record.reason,
      ...(record.source ? { 'ballast.config.source': record.source } : {}),
    },
  });
  if (span.isRecording()) {
    span.addEvent(
      record.outcome === 'applied' ? 'ballast.config.applied' : 'ballast.config.rejected',
      {
        'ballast.config.version': record.version,
        ...(record.changedPaths
          ? { 'ballast.config.changed_paths': record.changedPaths.slice(0, 50).join(',') }
          : {}),
        ...(record.issueCount !== undefined ? { 'ballast.config.issues': record.issueCount } : {}),
      },
    );
    if (record.outcome === 'rejected')
      span.setStatus({ code: t.api.SpanStatusCode.ERROR, message: 'configuration rejected' });
  }
  span.end();
}

/** Records a source failure as a span event on the active span, if any. */
export function recordSourceError(source: string): void {
  const t = get();
  t?.api.trace
    .getActiveSpan()
    ?.addEvent('ballast.config.source_failed', { 'ballast.config.source': source });
}
