import { describe, expect, expectTypeOf, it } from 'vitest';
import { InvalidOptionsError, isTracingError } from '../src/index.ts';
import { parseTracingOptions, resolveConfig } from '../src/options.ts';

const resolve = (options: unknown, env: NodeJS.ProcessEnv = {}) =>
  resolveConfig(parseTracingOptions(options), env);

describe('options', () => {
  it('defaults: OTLP/protobuf, parent-based 100 %, every instrumentation, metrics on', () => {
    const config = resolve({});
    expect(config).toMatchObject({
      serviceName: 'unknown_service:node',
      exporter: 'otlp',
      sampler: 1,
      parentBased: true,
      metrics: true,
      shutdownTimeoutMs: 5_000,
      handleSignals: true,
      logLevel: 'warn',
    });
    expect(Object.values(config.instrumentations).every(Boolean)).toBe(true);
  });

  it('reads the OTEL_* environment', () => {
    const config = resolve(
      {},
      {
        OTEL_SERVICE_NAME: 'orders',
        OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
        OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
        OTEL_TRACES_SAMPLER_ARG: '0.25',
        OTEL_NODE_DISABLED_INSTRUMENTATIONS: 'koa, pino',
        OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment.name=prod,team=pay%20ments',
        OTEL_METRICS_EXPORTER: 'none',
        OTEL_METRIC_EXPORT_INTERVAL: '15000',
        OTEL_LOG_LEVEL: 'error',
      },
    );
    expect(config).toMatchObject({
      serviceName: 'orders',
      exporter: 'otlp-json',
      sampler: 0.25,
      parentBased: true,
      metrics: false,
      metricsIntervalMs: 15_000,
      logLevel: 'error',
      resource: { 'deployment.environment.name': 'prod', team: 'pay ments' },
    });
    expect(config.instrumentations).toMatchObject({ koa: false, pino: false, http: true });
    expect(config.warnings).toEqual([]);
  });

  it('OTEL_NODE_ENABLED_INSTRUMENTATIONS keeps only those; options win over the environment', () => {
    const config = resolve(
      { instrumentations: { ioredis: true }, serviceName: 'mine', sampler: 'always_off' },
      {
        OTEL_NODE_ENABLED_INSTRUMENTATIONS: 'http',
        OTEL_SERVICE_NAME: 'env',
        OTEL_TRACES_SAMPLER: 'always_on',
      },
    );
    expect(config.instrumentations).toEqual({
      http: true,
      undici: false,
      express: false,
      fastify: false,
      koa: false,
      ioredis: true,
      pino: false,
    });
    expect(config.serviceName).toBe('mine');
    expect(config.sampler).toBe(0);
  });

  it('plain (not parent-based) samplers and console/none exporters from the environment', () => {
    expect(
      resolve({}, { OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.5' }),
    ).toMatchObject({
      sampler: 0.5,
      parentBased: false,
    });
    expect(resolve({}, { OTEL_TRACES_EXPORTER: 'console' })).toMatchObject({
      exporter: 'console',
      metrics: false,
    });
    expect(resolve({}, { OTEL_TRACES_EXPORTER: 'none' })).toMatchObject({
      exporter: 'none',
      metrics: false,
    });
  });

  it('a bad environment variable is a warning, and the default stays', () => {
    const config = resolve(
      {},
      {
        OTEL_TRACES_SAMPLER: 'sometimes',
        OTEL_TRACES_SAMPLER_ARG: 'lots',
        OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc',
        OTEL_METRIC_EXPORT_INTERVAL: 'soon',
        OTEL_LOG_LEVEL: 'loud',
      },
    );
    expect(config).toMatchObject({
      sampler: 1,
      exporter: 'otlp',
      metricsIntervalMs: 60_000,
      logLevel: 'warn',
    });
    expect(config.warnings).toHaveLength(5);
    expect(config.warnings.join('\n')).toMatch(
      /OTEL_TRACES_SAMPLER_ARG="lots" is not a number between 0 and 1/,
    );
  });

  it('a bad option is INVALID_OPTIONS naming it', () => {
    for (const [options, option] of [
      [{ sampler: 1.5 }, 'sampler'],
      [{ exporter: 'zipkin' }, 'exporter'],
      [{ endpoint: 'not a url' }, 'endpoint'],
      [{ instrumentations: { mongo: true } }, 'instrumentations.mongo'],
      [{ shutdownTimeoutMs: -1 }, 'shutdownTimeoutMs'],
      [{ serviceName: 42 }, 'serviceName'],
    ] as const) {
      let error: unknown;
      try {
        parseTracingOptions(options);
      } catch (caught) {
        error = caught;
      }
      if (!isTracingError(error, 'INVALID_OPTIONS')) return expect.unreachable(option);
      expectTypeOf(error).toEqualTypeOf<InvalidOptionsError>();
      expect(error).toBeInstanceOf(InvalidOptionsError);
      expect(error.option).toBe(option);
    }
  });

  it('accepts a custom exporter and sampler objects', () => {
    const exporter = { export: () => undefined, shutdown: async () => undefined };
    const sampler = { shouldSample: () => ({ decision: 1 }), toString: () => 'mine' };
    const config = resolve({ exporter, sampler });
    expect(config.exporter).toBe(exporter);
    expect(config.sampler).toBe(sampler);
    expect(config.metrics).toBe(false);
  });
});
