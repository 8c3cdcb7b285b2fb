import type { ExportResult } from '@opentelemetry/core';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace';
import { requireHere } from './api.ts';
import type { ResolvedConfig } from './options.ts';

/** What the exporter has done so far, for `status()`. */
export interface ExportStats {
  spansExported: number;
  exportFailures: number;
  lastExportError: string | undefined;
}

/**
 * Wraps the span exporter: counts what it exported and what failed (so failures reach `status()`
 * instead of being thrown into the application), and creates the OTLP exporter only on the first
 * export — its ~30 ms of modules load after the service is up, not before it listens.
 */
export class CountingExporter implements SpanExporter {
  readonly stats: ExportStats = { spansExported: 0, exportFailures: 0, lastExportError: undefined };
  #exporter: SpanExporter | undefined;
  readonly #create: () => SpanExporter;

  constructor(create: () => SpanExporter) {
    this.#create = create;
  }

  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    try {
      this.#exporter ??= this.#create();
    } catch (error) {
      this.#failed(error);
      done({ code: 1, error: error as Error });
      return;
    }
    this.#exporter.export(spans, (result) => {
      if (result.code === 0) this.stats.spansExported += spans.length;
      else this.#failed(result.error ?? new Error('export failed'));
      done(result);
    });
  }

  #failed(error: unknown): void {
    this.stats.exportFailures += 1;
    this.stats.lastExportError = error instanceof Error ? error.message : String(error);
  }

  async forceFlush(): Promise<void> {
    await this.#exporter?.forceFlush?.();
  }

  async shutdown(): Promise<void> {
    await this.#exporter?.shutdown();
  }
}

/** `endpoint` + `/v1/<signal>`, or `undefined` to let the exporter read `OTEL_EXPORTER_OTLP_*`. */
export function otlpUrl(config: ResolvedConfig, signal: 'traces' | 'metrics'): string | undefined {
  if (config.endpoint === undefined) return undefined;
  return `${config.endpoint.replace(/\/+$/, '')}/v1/${signal}`;
}

/** Creates the configured span exporter (call lazily). */
export function createSpanExporter(config: ResolvedConfig): SpanExporter {
  const exporter = config.exporter;
  if (typeof exporter === 'object') return exporter;
  if (exporter === 'console') {
    const { ConsoleSpanExporter } = requireHere(
      '@opentelemetry/sdk-trace',
    ) as typeof import('@opentelemetry/sdk-trace');
    return new ConsoleSpanExporter();
  }
  const url = otlpUrl(config, 'traces');
  const options = {
    ...(url !== undefined && { url }),
    ...(config.headers !== undefined && { headers: config.headers }),
  };
  if (exporter === 'otlp-json') {
    const { OTLPTraceExporter } = requireHere(
      '@opentelemetry/exporter-trace-otlp-http',
    ) as typeof import('@opentelemetry/exporter-trace-otlp-http');
    return new OTLPTraceExporter(options);
  }
  const { OTLPTraceExporter } = requireHere(
    '@opentelemetry/exporter-trace-otlp-proto',
  ) as typeof import('@opentelemetry/exporter-trace-otlp-proto');
  return new OTLPTraceExporter(options);
}
