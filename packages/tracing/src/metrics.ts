import type { Meter, MeterOptions, MeterProvider } from '@opentelemetry/api';
import type { Resource } from '@opentelemetry/resources';
import type { MeterProvider as SdkMeterProvider } from '@opentelemetry/sdk-metrics';
import { requireHere } from './api.ts';
import { otlpUrl } from './exporters.ts';
import type { ResolvedConfig } from './options.ts';

/**
 * The global meter provider: the SDK's, created on the first `getMeter()` call. A service whose
 * code never asks for a meter never loads the metrics SDK (~40 ms); one that does gets every
 * counter and gauge of every Ballast package exported over OTLP with the spans.
 */
export class LazyMeterProvider implements MeterProvider {
  #provider: SdkMeterProvider | undefined;
  readonly #config: ResolvedConfig;
  readonly #resource: () => Resource;

  constructor(config: ResolvedConfig, resource: () => Resource) {
    this.#config = config;
    this.#resource = resource;
  }

  getMeter(name: string, version?: string, options?: MeterOptions): Meter {
    this.#provider ??= this.#create();
    return this.#provider.getMeter(name, version, options);
  }

  #create(): SdkMeterProvider {
    const sdk = requireHere(
      '@opentelemetry/sdk-metrics',
    ) as typeof import('@opentelemetry/sdk-metrics');
    const url = otlpUrl(this.#config, 'metrics');
    const options = {
      ...(url !== undefined && { url }),
      ...(this.#config.headers !== undefined && { headers: this.#config.headers }),
    };
    const module =
      this.#config.exporter === 'otlp-json'
        ? '@opentelemetry/exporter-metrics-otlp-http'
        : '@opentelemetry/exporter-metrics-otlp-proto';
    const { OTLPMetricExporter } = requireHere(
      module,
    ) as typeof import('@opentelemetry/exporter-metrics-otlp-proto');
    return new sdk.MeterProvider({
      resource: this.#resource(),
      readers: [
        new sdk.PeriodicExportingMetricReader({
          exporter: new OTLPMetricExporter(options),
          exportIntervalMillis: this.#config.metricsIntervalMs,
          exportTimeoutMillis: Math.min(30_000, this.#config.metricsIntervalMs),
        }),
      ],
    });
  }

  async forceFlush(): Promise<void> {
    await this.#provider?.forceFlush();
  }

  async shutdown(): Promise<void> {
    await this.#provider?.shutdown();
  }
}
