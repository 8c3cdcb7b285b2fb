import http from 'node:http';
import { startHttpServer } from '@ballast/test-utils';
import { context } from '@opentelemetry/api';
import { suppressTracing } from '@opentelemetry/core';
import {
  InMemorySpanExporter,
  type Sampler,
  SimpleSpanProcessor,
  TraceIdRatioBasedSampler,
} from '@opentelemetry/sdk-trace';
import { afterEach, describe, expect, it } from 'vitest';
import { currentTraceIds, withSpan } from '../src/index.ts';
import { type EngineOverrides, startEngine, type TracingHandle } from '../src/start.ts';

// The unsampled-root fast path of the server instrumentation (rootStarter in start.ts): a request
// without trace context is decided by the sampler before the SDK's tracer is called, and a dropped
// one gets a non-recording span of its own. Parent-based sampling must hold all the same: the
// request's children stay unsampled in its trace, and downstream calls carry flags 00.

// A fresh exporter per start: shutting tracing down stops its exporter.
let memory = new InMemorySpanExporter();
const overrides: EngineOverrides = {
  spanProcessor: () => new SimpleSpanProcessor({ exporter: memory }),
};
let running: TracingHandle | undefined;

function start(sampler: number | Sampler): TracingHandle {
  memory = new InMemorySpanExporter();
  running = startEngine(
    { serviceName: 'sampling-test', sampler, metrics: false, handleSignals: false },
    overrides,
  );
  expect(running.status().state).toBe('running');
  return running;
}

afterEach(async () => {
  await running?.shutdown();
  running = undefined;
});

/** GET with no trace context on the wire (the test's own client span is suppressed). */
function get(url: string, headers: Record<string, string> = {}): Promise<string> {
  return context.with(
    suppressTracing(context.active()),
    () =>
      new Promise<string>((resolve, reject) => {
        http
          .get(url, { headers }, (res) => {
            let body = '';
            res.setEncoding('utf8');
            res.on('data', (chunk: string) => {
              body += chunk;
            });
            res.on('end', () => resolve(body));
          })
          .on('error', reject);
      }),
  );
}

interface Seen {
  /** The front request's ids, read in its handler. */
  front: { traceId: string; spanId: string; traceFlags: string };
  /** Ids of a span started inside the handler. */
  inner: { traceId: string; traceFlags: string };
  /** The traceparent the downstream server received from the front handler's call. */
  downstream: string;
}

/** front -> (withSpan, an http call to downstream) ; downstream echoes the traceparent it got. */
async function servers() {
  const downstream = await startHttpServer((req, res) => {
    res.end(String(req.headers.traceparent ?? ''));
  });
  const front = await startHttpServer(async (_req, res) => {
    const ids = currentTraceIds();
    const inner = withSpan('inner', () => currentTraceIds());
    const traceparent = await new Promise<string>((resolve, reject) => {
      http
        .get(downstream.url, (r) => {
          let body = '';
          r.setEncoding('utf8');
          r.on('data', (c: string) => {
            body += c;
          });
          r.on('end', () => resolve(body));
        })
        .on('error', reject);
    });
    res.end(JSON.stringify({ front: ids, inner, downstream: traceparent }));
  });
  return {
    front,
    downstream,
    close: async () => {
      await front.close();
      await downstream.close();
    },
  };
}

describe('root requests at a ratio (the unsampled fast path)', () => {
  it('keeps the sampler decision on the trace id, and unsampled requests stay unsampled downstream', async () => {
    const ratio = 0.25;
    start(ratio);
    const { front, close } = await servers();
    const seen: Seen[] = [];
    try {
      for (let i = 0; i < 200; i++) seen.push(JSON.parse(await get(`${front.url}/r${i}`)) as Seen);
    } finally {
      await close();
    }
    await running?.flush();
    const spans = memory.getFinishedSpans();
    const recordedTraces = new Set(spans.map((s) => s.spanContext().traceId));
    const oracle = new TraceIdRatioBasedSampler(ratio);
    let sampled = 0;
    for (const { front: ids, inner, downstream } of seen) {
      // Every request has a valid trace of its own, unique.
      expect(ids.traceId).toMatch(/^[0-9a-f]{32}$/);
      expect(ids.spanId).toMatch(/^[0-9a-f]{16}$/);
      // The decision is the ratio sampler's on this trace id.
      const keep = oracle.shouldSample(context.active(), ids.traceId).decision === 2;
      expect(ids.traceFlags).toBe(keep ? '01' : '00');
      // A span started in the handler is in the same trace, with the same flags.
      expect(inner).toMatchObject({ traceId: ids.traceId, traceFlags: ids.traceFlags });
      // The downstream call carries the trace and the flags (00 for a dropped trace).
      const [version, traceId, parent, flags] = downstream.split('-');
      expect(version).toBe('00');
      expect(traceId).toBe(ids.traceId);
      expect(parent).toMatch(/^[0-9a-f]{16}$/);
      expect(flags).toBe(ids.traceFlags);
      // Nothing of a dropped trace was recorded (server, inner, client, downstream server).
      expect(recordedTraces.has(ids.traceId)).toBe(keep);
      if (keep) {
        sampled += 1;
        const names = spans
          .filter((s) => s.spanContext().traceId === ids.traceId)
          .map((s) => s.name)
          .sort();
        expect(names).toEqual(['GET', 'GET', 'GET', 'inner']);
      }
    }
    expect(new Set(seen.map((s) => s.front.traceId)).size).toBe(seen.length);
    // 200 draws at 25 %: 50 expected; [25, 80] fails with probability < 1e-5.
    expect(sampled).toBeGreaterThanOrEqual(25);
    expect(sampled).toBeLessThanOrEqual(80);
  });

  it('at ratio 0 records nothing for roots, but still follows a sampled parent', async () => {
    start(0);
    const { front, close } = await servers();
    let unsampled: Seen;
    let followed: Seen;
    try {
      unsampled = JSON.parse(await get(`${front.url}/a`)) as Seen;
      const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
      followed = JSON.parse(
        // Header names in any case (rawHeaders keeps them as sent).
        await get(`${front.url}/b`, { TraceParent: `00-${traceId}-00f067aa0ba902b7-01` }),
      ) as Seen;
      expect(followed.front).toMatchObject({ traceId, traceFlags: '01' });
    } finally {
      await close();
    }
    await running?.flush();
    expect(unsampled.front.traceFlags).toBe('00');
    expect(unsampled.downstream).toMatch(
      new RegExp(`^00-${unsampled.front.traceId}-[0-9a-f]{16}-00$`),
    );
    const traces = new Set(memory.getFinishedSpans().map((s) => s.spanContext().traceId));
    expect([...traces]).toEqual([followed.front.traceId]);
  });

  it("asks a caller's own sampler once per root request (it may count or rate-limit)", async () => {
    let asked = 0;
    const sampler: Sampler = {
      shouldSample: () => {
        asked += 1;
        return { decision: asked % 2 === 0 ? 2 : 0 };
      },
      toString: () => 'every-second',
    };
    start(sampler);
    const server = await startHttpServer((_req, res) => {
      res.end(JSON.stringify(currentTraceIds()));
    });
    const flags: string[] = [];
    try {
      for (let i = 0; i < 4; i++)
        flags.push((JSON.parse(await get(server.url)) as { traceFlags: string }).traceFlags);
    } finally {
      await server.close();
    }
    expect(asked).toBe(4);
    expect(flags).toEqual(['00', '01', '00', '01']);
  });
});
