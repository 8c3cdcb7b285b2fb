import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type OtlpReceiver, startOtlpReceiver } from '../otlp/receiver.ts';

const shopDir = join(dirname(fileURLToPath(import.meta.url)), '..');
let receiver: OtlpReceiver;
beforeAll(async () => {
  receiver = await startOtlpReceiver({ port: 0, maxTraces: 3 });
});
afterAll(() => receiver.close());

/**
 * Runs a tiny traced server (the shop's way: --import @ballast/tracing/register) exporting to the
 * receiver, sends it one request carrying `traceparent`, and waits for the program to end.
 */
function tracedProgram(protocol: 'http/protobuf' | 'http/json', traceId: string): Promise<void> {
  const program = `
    import { createServer } from 'node:http';
    const server = createServer((req, res) => {
      res.end('ok');
      server.close();
      // spans leave in batches (OTEL_BSP_SCHEDULE_DELAY); a process that ends by itself does not
      // flush them, so stay up past one batch
      setTimeout(() => {}, 800);
    }).listen(0, '127.0.0.1', () => console.log(server.address().port));`;
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--import', '@ballast/tracing/register', '--input-type=module', '-e', program],
      {
        cwd: shopDir,
        env: {
          ...process.env,
          OTEL_SERVICE_NAME: `otlp-test-${protocol.slice(5)}`,
          OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
          OTEL_EXPORTER_OTLP_PROTOCOL: protocol,
          OTEL_METRICS_EXPORTER: 'none',
          OTEL_BSP_SCHEDULE_DELAY: '100',
        },
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    child.stdout?.once('data', (data) => {
      const port = Number(String(data).trim());
      void fetch(`http://127.0.0.1:${port}/x`, {
        headers: { traceparent: `00-${traceId}-00f067aa0ba902b7-01` },
      }).then((res) => res.text());
    });
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`exit ${code}`))));
  });
}

describe('shop OTLP receiver', () => {
  it.each(['http/protobuf', 'http/json'] as const)(
    'receives %s spans and serves the trace as JSON',
    async (protocol) => {
      const traceId =
        protocol === 'http/json'
          ? '4bf92f3577b34da6a3ce929d0e0e4736'
          : '5bf92f3577b34da6a3ce929d0e0e4737';
      await tracedProgram(protocol, traceId);
      const res = await fetch(`${receiver.url}/traces/${traceId}`);
      expect(res.status).toBe(200);
      const body = (await res.json()) as {
        spans: {
          kind: string;
          service: string;
          parentSpanId?: string;
          attributes: Record<string, unknown>;
        }[];
      };
      expect(body.spans).toHaveLength(1);
      const span = body.spans[0]!;
      expect(span.kind).toBe('server');
      expect(span.service).toBe(`otlp-test-${protocol.slice(5)}`);
      expect(span.parentSpanId).toBe('00f067aa0ba902b7');
      expect(span.attributes['url.path']).toBe('/x');
      const list = (await (await fetch(`${receiver.url}/traces?limit=10`)).json()) as {
        traces: { traceId: string }[];
      };
      expect(list.traces.map((t) => t.traceId)).toContain(traceId);
    },
    30_000,
  );

  it('keeps only the newest maxTraces traces and answers 404 for a dropped one', async () => {
    const span = (traceId: string) => ({
      resourceSpans: [
        {
          resource: { attributes: [{ key: 'service.name', value: { stringValue: 'x' } }] },
          scopeSpans: [
            {
              scope: { name: 's' },
              spans: [
                {
                  traceId,
                  spanId: '0102030405060708',
                  name: 'n',
                  kind: 2,
                  startTimeUnixNano: '1000000',
                  endTimeUnixNano: '3000000',
                },
              ],
            },
          ],
        },
      ],
    });
    for (let i = 0; i < 5; i++) {
      const res = await fetch(`${receiver.url}/v1/traces`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(span(`${String(i).repeat(32)}`)),
      });
      expect(res.status).toBe(200);
    }
    expect(receiver.traces().map((t) => t.traceId)).toEqual([
      '4'.repeat(32),
      '3'.repeat(32),
      '2'.repeat(32),
    ]);
    expect((await fetch(`${receiver.url}/traces/${'0'.repeat(32)}`)).status).toBe(404);
    expect(receiver.trace('4'.repeat(32))?.[0]?.durationMs).toBe(2);
  });

  it('forwards every request, as received, to a collector when asked', async () => {
    const collector = await startOtlpReceiver({ port: 0 });
    const front = await startOtlpReceiver({ port: 0, forward: `${collector.url}/` });
    const traceId = 'ab'.repeat(16);
    const body = {
      resourceSpans: [
        {
          resource: { attributes: [{ key: 'service.name', value: { stringValue: 'fwd' } }] },
          scopeSpans: [
            {
              spans: [
                {
                  traceId,
                  spanId: '0102030405060708',
                  name: 'n',
                  startTimeUnixNano: '1000000',
                  endTimeUnixNano: '2000000',
                },
              ],
            },
          ],
        },
      ],
    };
    await fetch(`${front.url}/v1/traces`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    await vi.waitFor(() => expect(collector.trace(traceId)?.[0]?.service).toBe('fwd'));
    expect(front.stats().forwardFailures).toBe(0);
    await front.close();
    await collector.close();
  });
});
