/**
 * `@ballast/tracing/testing`: tracing for tests, with every span kept in memory and available as
 * soon as it ends (a synchronous processor), plus finders and a parent/child tree.
 *
 * @packageDocumentation
 */
import type { Attributes, AttributeValue } from '@opentelemetry/api';
import type { InMemorySpanExporter, ReadableSpan } from '@opentelemetry/sdk-trace';
import { requireHere } from './api.ts';
import type { InstrumentationsOptions } from './options.ts';
import { activeTracing, startEngine, type TracingHandle } from './start.ts';

/** A finished span, in plain data. */
export interface TestSpan {
  readonly name: string;
  /** `'internal' | 'server' | 'client' | 'producer' | 'consumer'`. */
  readonly kind: string;
  readonly traceId: string;
  readonly spanId: string;
  /** The parent's span id; `undefined` for a root span. */
  readonly parentSpanId: string | undefined;
  readonly attributes: Attributes;
  /** `'unset' | 'ok' | 'error'` and the status message. */
  readonly status: {
    readonly code: 'unset' | 'ok' | 'error';
    readonly message: string | undefined;
  };
  /** Event names in order (`exception` for a recorded exception). */
  readonly events: readonly { readonly name: string; readonly attributes: Attributes }[];
  /** Start, in milliseconds since the epoch. */
  readonly startTimeMs: number;
  /** Wall time in milliseconds. */
  readonly durationMs: number;
  /** The instrumentation scope (tracer name) that created it. */
  readonly scope: string;
}

/** A span and its children, as {@link TestTracing.tree} returns it. */
export interface SpanNode extends TestSpan {
  readonly children: readonly SpanNode[];
}

/** What to look for with {@link TestTracing.spans}; every given field must match. */
export interface SpanQuery {
  /** The exact name, or a pattern. */
  name?: string | RegExp | undefined;
  /** Attributes the span must have, with these values. */
  attributes?: Record<string, AttributeValue> | undefined;
  /** The span kind. */
  kind?: TestSpan['kind'] | undefined;
  /** Only spans of this trace. */
  traceId?: string | undefined;
}

/** Options of {@link createTestTracing}. */
export interface TestTracingOptions {
  /** `service.name`. Default `'test'`. */
  serviceName?: string | undefined;
  /** Switch instrumentations off. Default: the whole default set, as in production. */
  instrumentations?: InstrumentationsOptions | undefined;
}

/** In-memory tracing for a test; see {@link createTestTracing}. */
export interface TestTracing {
  /** Finished spans in the order they ended, optionally filtered. */
  spans(query?: SpanQuery): TestSpan[];
  /** Finished spans as trees: roots (spans whose parent is not among them) with their children, by start time. */
  tree(query?: { traceId?: string | undefined }): SpanNode[];
  /** Forgets every span recorded so far. */
  reset(): void;
  /** Stops tracing (the instrumentations and the providers). */
  shutdown(): Promise<void>;
  /** The underlying tracing handle. */
  readonly handle: TracingHandle;
}

const KIND_NAMES = ['internal', 'server', 'client', 'producer', 'consumer'];
const STATUS_NAMES = ['unset', 'ok', 'error'] as const;
const SHARED = Symbol.for('@ballast/tracing.test-exporter');

/**
 * Starts tracing for tests: every span sampled, kept in memory by a synchronous processor (a span
 * is in `spans()` as soon as it ends), no export, no signal handlers. Instrumentations are the
 * production set, so a real HTTP server in the test gets real server spans.
 *
 * ```ts
 * const tracing = createTestTracing();
 * await withSpan('work', () => 1);
 * tracing.spans({ name: 'work' }).length; // 1
 * ```
 */
export function createTestTracing(options: TestTracingOptions = {}): TestTracing {
  const trace = requireHere(
    '@opentelemetry/sdk-trace',
  ) as typeof import('@opentelemetry/sdk-trace');
  const holder = globalThis as { [SHARED]?: InMemorySpanExporter };
  let exporter = holder[SHARED];
  const running = activeTracing();
  if (running === undefined || exporter === undefined || running.status().state !== 'running') {
    exporter = new trace.InMemorySpanExporter();
    const memory = exporter;
    holder[SHARED] = memory;
    startEngine(
      {
        serviceName: options.serviceName ?? 'test',
        sampler: 'always_on',
        exporter: 'none',
        metrics: false,
        handleSignals: false,
        instrumentations: options.instrumentations,
      },
      { spanProcessor: () => new trace.SimpleSpanProcessor({ exporter: memory }) },
    );
  } else exporter.reset();
  const memory = exporter;
  const handle = activeTracing() as TracingHandle;

  const all = () => memory.getFinishedSpans().map(toTestSpan);
  return {
    handle,
    spans: (query) => all().filter((span) => matches(span, query)),
    tree: (query) =>
      buildTree(
        all().filter((span) => query?.traceId === undefined || span.traceId === query.traceId),
      ),
    reset: () => memory.reset(),
    shutdown: async () => {
      await handle.shutdown();
      delete holder[SHARED];
    },
  };
}

function toTestSpan(span: ReadableSpan): TestSpan {
  const context = span.spanContext();
  const [seconds, nanos] = span.duration;
  return {
    name: span.name,
    kind: KIND_NAMES[span.kind] ?? String(span.kind),
    traceId: context.traceId,
    spanId: context.spanId,
    parentSpanId: span.parentSpanContext?.spanId,
    attributes: span.attributes,
    status: { code: STATUS_NAMES[span.status.code] ?? 'unset', message: span.status.message },
    events: span.events.map((event) => ({ name: event.name, attributes: event.attributes ?? {} })),
    startTimeMs: span.startTime[0] * 1e3 + span.startTime[1] / 1e6,
    durationMs: seconds * 1e3 + nanos / 1e6,
    scope: span.instrumentationScope.name,
  };
}

function matches(span: TestSpan, query: SpanQuery | undefined): boolean {
  if (query === undefined) return true;
  const { name, attributes, kind, traceId } = query;
  if (typeof name === 'string' && span.name !== name) return false;
  if (name instanceof RegExp && !name.test(span.name)) return false;
  if (kind !== undefined && span.kind !== kind) return false;
  if (traceId !== undefined && span.traceId !== traceId) return false;
  if (attributes !== undefined)
    for (const [key, value] of Object.entries(attributes))
      if (!sameValue(span.attributes[key], value)) return false;
  return true;
}

function sameValue(actual: AttributeValue | undefined, expected: AttributeValue): boolean {
  if (Array.isArray(expected))
    return (
      Array.isArray(actual) &&
      actual.length === expected.length &&
      expected.every((v, i) => actual[i] === v)
    );
  return actual === expected;
}

function buildTree(spans: TestSpan[]): SpanNode[] {
  const nodes = new Map<string, SpanNode & { children: SpanNode[] }>();
  const byStart = [...spans].sort((a, b) => a.startTimeMs - b.startTimeMs);
  for (const span of byStart) nodes.set(span.spanId, { ...span, children: [] });
  const roots: SpanNode[] = [];
  for (const node of nodes.values()) {
    const parent = node.parentSpanId === undefined ? undefined : nodes.get(node.parentSpanId);
    if (parent === undefined) roots.push(node);
    else parent.children.push(node);
  }
  return roots;
}
