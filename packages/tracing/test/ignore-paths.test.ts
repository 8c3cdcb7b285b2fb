import { startHttpServer } from '@ballast/test-utils';
import type {} from '@ballast/test-utils/global-setup';
import { trace } from '@opentelemetry/api';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { resolveConfig } from '../src/options.ts';
import { createTestTracing } from '../src/testing.ts';

const tracing = createTestTracing({ serviceName: 'ignore-paths-test' });
beforeEach(() => tracing.reset());
afterAll(() => tracing.shutdown());

async function settle(predicate: () => boolean): Promise<void> {
  for (let i = 0; i < 100 && !predicate(); i++)
    await new Promise((resolve) => setTimeout(resolve, 5));
}

describe('ignoreIncomingPaths (health probes are not traced)', () => {
  it('a request on /livez, /readyz or /health creates no span, nor does the work its handler does', async () => {
    const tracer = trace.getTracer('test');
    const server = await startHttpServer((_req, res) => {
      // What a health check would do inside the handler: its span must not record either.
      const child = tracer.startSpan('redis PING');
      const recording = child.isRecording();
      child.end();
      res.end(String(recording));
    });
    try {
      for (const path of ['/livez', '/readyz?full=1', '/health']) {
        const res = await fetch(server.url + path);
        expect(await res.text()).toBe('false');
      }
      const other = await fetch(`${server.url}/orders`);
      expect(await other.text()).toBe('true');
      await settle(() => tracing.spans({ kind: 'server' }).length === 1);
      const servers = tracing.spans({ kind: 'server' });
      expect(servers.map((span) => span.attributes['url.path'])).toEqual(['/orders']);
      expect(tracing.spans().filter((span) => span.name === 'redis PING')).toHaveLength(1);
    } finally {
      await server.close();
    }
  });

  it('is configured by the option, else BALLAST_TRACING_IGNORE_PATHS, else the probe paths', () => {
    expect(resolveConfig({}, {}).ignoreIncomingPaths).toEqual(['/livez', '/readyz', '/health']);
    expect(
      resolveConfig({}, { BALLAST_TRACING_IGNORE_PATHS: '/ping, /ready' }).ignoreIncomingPaths,
    ).toEqual(['/ping', '/ready']);
    expect(resolveConfig({}, { BALLAST_TRACING_IGNORE_PATHS: '' }).ignoreIncomingPaths).toEqual([]);
    const bad = resolveConfig({}, { BALLAST_TRACING_IGNORE_PATHS: 'ping' });
    expect(bad.ignoreIncomingPaths).toEqual(['/livez', '/readyz', '/health']);
    expect(bad.warnings[0]).toMatch(/BALLAST_TRACING_IGNORE_PATHS/);
    expect(
      resolveConfig({ ignoreIncomingPaths: [] }, { BALLAST_TRACING_IGNORE_PATHS: '/x' })
        .ignoreIncomingPaths,
    ).toEqual([]);
  });
});
