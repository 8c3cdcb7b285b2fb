/**
 * A local OTLP/HTTP receiver for the shop: accepts traces as OTLP/HTTP protobuf (the tracing
 * default) or JSON on `POST /v1/traces`, keeps the last `maxTraces` traces in memory and serves
 * them as JSON (`GET /traces`, `GET /traces/:id`) for the scenarios and the dashboard. Metrics and
 * logs are accepted and counted, not kept.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { decodeTraceRequest } from './protobuf.ts';

const KINDS = ['unspecified', 'internal', 'server', 'client', 'producer', 'consumer'];
const STATUS = ['unset', 'ok', 'error'];

export interface StoredSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string | undefined;
  name: string;
  kind: string;
  service: string;
  instance?: string | undefined;
  scope: string;
  startTimeMs: number;
  durationMs: number;
  attributes: Record<string, unknown>;
  events: { name: string; timeMs: number; attributes: Record<string, unknown> }[];
  links: { traceId: string; spanId: string }[];
  status: { code: string; message?: string | undefined };
}

export interface TraceSummary {
  traceId: string;
  rootName: string;
  rootService: string;
  services: string[];
  spanCount: number;
  startTimeMs: number;
  durationMs: number;
  error: boolean;
}

interface Trace {
  traceId: string;
  spans: StoredSpan[];
  updatedAt: number;
}

export interface OtlpReceiverOptions {
  /** Port to listen on (0: a free port). Default 4318. */
  port?: number | undefined;
  /** Interface to bind. Default `127.0.0.1`. */
  host?: string | undefined;
  /** How many traces to keep (oldest dropped first). Default 500. */
  maxTraces?: number | undefined;
  /** Most spans kept per trace. Default 2000. */
  maxSpansPerTrace?: number | undefined;
  /**
   * Also forward every OTLP request, as received, to this collector's base URL (Jaeger, an
   * OpenTelemetry Collector): `<forward>/v1/traces`, `/v1/metrics`, `/v1/logs`. Failures are
   * counted, never retried. Default: none.
   */
  forward?: string | undefined;
}

export interface OtlpReceiver {
  /** Base URL (`http://127.0.0.1:<port>`), what `OTEL_EXPORTER_OTLP_ENDPOINT` should be. */
  readonly url: string;
  /** Summaries, newest first. */
  traces(filter?: { service?: string | undefined; limit?: number | undefined }): TraceSummary[];
  /** One trace's spans in start order, or undefined. */
  trace(traceId: string): StoredSpan[] | undefined;
  /** Counters: requests and spans received per signal. */
  stats(): {
    traces: number;
    spans: number;
    requests: Record<string, number>;
    errors: number;
    forwardFailures: number;
  };
  clear(): void;
  close(): Promise<void>;
}

type AnyValueJson = Record<string, unknown> | undefined;

function anyValue(value: AnyValueJson): unknown {
  if (!value) return null;
  if ('stringValue' in value) return value.stringValue;
  if ('boolValue' in value) return value.boolValue;
  if ('intValue' in value) return Number(value.intValue);
  if ('doubleValue' in value) return Number(value.doubleValue);
  if ('arrayValue' in value) {
    const values = (value.arrayValue as { values?: AnyValueJson[] } | undefined)?.values ?? [];
    return values.map(anyValue);
  }
  if ('kvlistValue' in value) {
    const values =
      (value.kvlistValue as { values?: { key: string; value: AnyValueJson }[] } | undefined)
        ?.values ?? [];
    return attributes(values);
  }
  if ('bytesValue' in value) return value.bytesValue;
  return null;
}

function attributes(list: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (!Array.isArray(list)) return out;
  for (const kv of list as { key: string; value: AnyValueJson }[]) out[kv.key] = anyValue(kv.value);
  return out;
}

/** OTLP/JSON ids are hex; some encoders send base64 — normalize to lowercase hex. */
function id(value: unknown, bytes: number): string | undefined {
  if (typeof value !== 'string' || value === '') return undefined;
  if (value.length === bytes * 2 && /^[0-9a-fA-F]+$/.test(value)) return value.toLowerCase();
  const decoded = Buffer.from(value, 'base64');
  return decoded.length === bytes ? decoded.toString('hex') : value;
}

const nanosToMs = (value: unknown) => Number(BigInt(String(value ?? 0)) / 1000n) / 1000;

function enumName(value: unknown, names: string[], prefix: string): string {
  if (typeof value === 'number') return names[value] ?? String(value);
  if (typeof value === 'string')
    return value.toLowerCase().replace(prefix, '').replace(/^_/, '') || names[0]!;
  return names[0]!;
}

function spansOf(request: { resourceSpans?: unknown[] }): StoredSpan[] {
  const out: StoredSpan[] = [];
  for (const rs of (request.resourceSpans ?? []) as Record<string, any>[]) {
    const resource = attributes(rs.resource?.attributes);
    const service = String(resource['service.name'] ?? 'unknown');
    const instance = resource['service.instance.id'] as string | undefined;
    for (const ss of (rs.scopeSpans ?? rs.instrumentationLibrarySpans ?? []) as Record<
      string,
      any
    >[]) {
      const scope = String(ss.scope?.name ?? ss.instrumentationLibrary?.name ?? '');
      for (const s of (ss.spans ?? []) as Record<string, any>[]) {
        const traceId = id(s.traceId, 16);
        const spanId = id(s.spanId, 8);
        if (!traceId || !spanId) continue;
        const start = nanosToMs(s.startTimeUnixNano);
        const end = nanosToMs(s.endTimeUnixNano);
        out.push({
          traceId,
          spanId,
          parentSpanId: id(s.parentSpanId, 8),
          name: String(s.name ?? ''),
          kind: enumName(s.kind, KINDS, 'span_kind'),
          service,
          instance,
          scope,
          startTimeMs: start,
          durationMs: Math.max(0, Math.round((end - start) * 1000) / 1000),
          attributes: attributes(s.attributes),
          events: ((s.events ?? []) as Record<string, any>[]).map((e) => ({
            name: String(e.name ?? ''),
            timeMs: nanosToMs(e.timeUnixNano),
            attributes: attributes(e.attributes),
          })),
          links: ((s.links ?? []) as Record<string, any>[]).map((l) => ({
            traceId: id(l.traceId, 16) ?? '',
            spanId: id(l.spanId, 8) ?? '',
          })),
          status: {
            code: enumName(s.status?.code, STATUS, 'status_code'),
            message: s.status?.message || undefined,
          },
        });
      }
    }
  }
  return out;
}

function summarize(trace: Trace): TraceSummary {
  const ids = new Set(trace.spans.map((s) => s.spanId));
  let root: StoredSpan | undefined;
  let start = Number.POSITIVE_INFINITY;
  let end = 0;
  for (const s of trace.spans) {
    // the root: a span without parent, else the earliest whose parent has not arrived (yet)
    const orphan = !s.parentSpanId || !ids.has(s.parentSpanId);
    if (
      orphan &&
      (!root ||
        (!s.parentSpanId && root.parentSpanId) ||
        (Boolean(s.parentSpanId) === Boolean(root.parentSpanId) &&
          s.startTimeMs < root.startTimeMs))
    )
      root = s;
    start = Math.min(start, s.startTimeMs);
    end = Math.max(end, s.startTimeMs + s.durationMs);
  }
  root ??= trace.spans[0]!;
  return {
    traceId: trace.traceId,
    rootName: root.name,
    rootService: root.service,
    services: [...new Set(trace.spans.map((s) => s.service))],
    spanCount: trace.spans.length,
    startTimeMs: start,
    durationMs: Math.round((end - start) * 1000) / 1000,
    error: trace.spans.some((s) => s.status.code === 'error'),
  };
}

async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw Object.assign(new Error('body too large'), { status: 413 });
    chunks.push(chunk as Buffer);
  }
  const body = Buffer.concat(chunks);
  return req.headers['content-encoding'] === 'gzip' ? gunzipSync(body) : body;
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    'access-control-allow-origin': '*',
  });
  res.end(text);
}

export async function startOtlpReceiver(options: OtlpReceiverOptions = {}): Promise<OtlpReceiver> {
  const maxTraces = options.maxTraces ?? 500;
  const maxSpans = options.maxSpansPerTrace ?? 2000;
  const store = new Map<string, Trace>();
  const requests: Record<string, number> = {};
  let spanCount = 0;
  let errors = 0;
  let forwardFailures = 0;
  const forwardTo = options.forward?.replace(/\/$/, '');
  const forward = (signal: string, body: Buffer, headers: IncomingMessage['headers']) => {
    if (!forwardTo) return;
    const contentType = String(headers['content-type'] ?? 'application/x-protobuf');
    fetch(`${forwardTo}/v1/${signal}`, {
      method: 'POST',
      headers: { 'content-type': contentType },
      body: new Uint8Array(body),
      signal: AbortSignal.timeout(5_000),
    })
      .then(async (res) => {
        await res.arrayBuffer();
        if (!res.ok) forwardFailures++;
      })
      .catch(() => {
        forwardFailures++;
      });
  };

  const ingest = (spans: StoredSpan[]) => {
    const now = Date.now();
    for (const span of spans) {
      spanCount++;
      let trace = store.get(span.traceId);
      if (trace)
        store.delete(span.traceId); // re-insert: most recently updated last
      else trace = { traceId: span.traceId, spans: [], updatedAt: now };
      if (trace.spans.length < maxSpans) trace.spans.push(span);
      trace.updatedAt = now;
      store.set(span.traceId, trace);
    }
    while (store.size > maxTraces) store.delete(store.keys().next().value as string);
  };

  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://receiver');
    try {
      if (req.method === 'POST' && url.pathname.startsWith('/v1/')) {
        const signal = url.pathname.slice(4);
        requests[signal] = (requests[signal] ?? 0) + 1;
        const body = await readBody(req, 32 * 1024 * 1024);
        const protobuf = !String(req.headers['content-type'] ?? '').includes('json');
        forward(signal, body, req.headers);
        if (signal === 'traces') {
          const decoded = protobuf ? decodeTraceRequest(body) : JSON.parse(body.toString('utf8'));
          ingest(spansOf(decoded));
        }
        if (protobuf) {
          res.writeHead(200, { 'content-type': 'application/x-protobuf', 'content-length': 0 });
          res.end();
        } else json(res, 200, {});
        return;
      }
      if (req.method === 'GET' && url.pathname === '/traces') {
        const limit = Number(url.searchParams.get('limit') ?? 100);
        json(res, 200, {
          traces: receiver.traces({ service: url.searchParams.get('service') ?? undefined, limit }),
        });
        return;
      }
      if (req.method === 'GET' && url.pathname.startsWith('/traces/')) {
        const traceId = decodeURIComponent(url.pathname.slice('/traces/'.length)).toLowerCase();
        const spans = receiver.trace(traceId);
        if (!spans) json(res, 404, { error: 'not_found', traceId });
        else json(res, 200, { traceId, summary: summarize(store.get(traceId)!), spans });
        return;
      }
      if (req.method === 'DELETE' && url.pathname === '/traces') {
        receiver.clear();
        json(res, 200, { cleared: true });
        return;
      }
      if (
        req.method === 'GET' &&
        (url.pathname === '/stats' || url.pathname === '/readyz' || url.pathname === '/livez')
      ) {
        json(res, 200, receiver.stats());
        return;
      }
      json(res, 404, { error: 'not_found' });
    } catch (error) {
      errors++;
      const status = (error as { status?: number }).status ?? 400;
      json(res, status, {
        error: status === 413 ? 'too_large' : 'bad_request',
        message: String((error as Error).message),
      });
    }
  });
  server.keepAliveTimeout = 30_000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 4318, options.host ?? '127.0.0.1', () => resolve());
  });
  const address = server.address() as AddressInfo;

  const receiver: OtlpReceiver = {
    url: `http://${address.address}:${address.port}`,
    traces(filter = {}) {
      const out: TraceSummary[] = [];
      const limit = filter.limit ?? 100;
      const all = [...store.values()];
      for (let i = all.length - 1; i >= 0 && out.length < limit; i--) {
        const summary = summarize(all[i]!);
        if (filter.service && !summary.services.includes(filter.service)) continue;
        out.push(summary);
      }
      return out;
    },
    trace(traceId) {
      const trace = store.get(traceId);
      return trace ? [...trace.spans].sort((a, b) => a.startTimeMs - b.startTimeMs) : undefined;
    },
    stats: () => ({
      traces: store.size,
      spans: spanCount,
      requests: { ...requests },
      errors,
      forwardFailures,
    }),
    clear: () => store.clear(),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
  return receiver;
}
