import { requireHere, activeTracing, startEngine } from './chunk-HADH6W7O.js';

// src/testing.ts
var KIND_NAMES = ["internal", "server", "client", "producer", "consumer"];
var STATUS_NAMES = ["unset", "ok", "error"];
var SHARED = /* @__PURE__ */ Symbol.for("@ballast/tracing.test-exporter");
function createTestTracing(options = {}) {
  const trace = requireHere(
    "@opentelemetry/sdk-trace"
  );
  const holder = globalThis;
  let exporter = holder[SHARED];
  const running = activeTracing();
  if (running === void 0 || exporter === void 0 || running.status().state !== "running") {
    exporter = new trace.InMemorySpanExporter();
    const memory2 = exporter;
    holder[SHARED] = memory2;
    startEngine(
      {
        serviceName: options.serviceName ?? "test",
        sampler: "always_on",
        exporter: "none",
        metrics: false,
        handleSignals: false,
        instrumentations: options.instrumentations
      },
      { spanProcessor: () => new trace.SimpleSpanProcessor({ exporter: memory2 }) }
    );
  } else exporter.reset();
  const memory = exporter;
  const handle = activeTracing();
  const all = () => memory.getFinishedSpans().map(toTestSpan);
  return {
    handle,
    spans: (query) => all().filter((span) => matches(span, query)),
    tree: (query) => buildTree(
      all().filter((span) => query?.traceId === void 0 || span.traceId === query.traceId)
    ),
    reset: () => memory.reset(),
    shutdown: async () => {
      await handle.shutdown();
      delete holder[SHARED];
    }
  };
}
function toTestSpan(span) {
  const context = span.spanContext();
  const [seconds, nanos] = span.duration;
  return {
    name: span.name,
    kind: KIND_NAMES[span.kind] ?? String(span.kind),
    traceId: context.traceId,
    spanId: context.spanId,
    parentSpanId: span.parentSpanContext?.spanId,
    attributes: span.attributes,
    status: { code: STATUS_NAMES[span.status.code] ?? "unset", message: span.status.message },
    events: span.events.map((event) => ({ name: event.name, attributes: event.attributes ?? {} })),
    startTimeMs: span.startTime[0] * 1e3 + span.startTime[1] / 1e6,
    durationMs: seconds * 1e3 + nanos / 1e6,
    scope: span.instrumentationScope.name
  };
}
function matches(span, query) {
  if (query === void 0) return true;
  const { name, attributes, kind, traceId } = query;
  if (typeof name === "string" && span.name !== name) return false;
  if (name instanceof RegExp && !name.test(span.name)) return false;
  if (kind !== void 0 && span.kind !== kind) return false;
  if (traceId !== void 0 && span.traceId !== traceId) return false;
  if (attributes !== void 0) {
    for (const [key, value] of Object.entries(attributes))
      if (!sameValue(span.attributes[key], value)) return false;
  }
  return true;
}
function sameValue(actual, expected) {
  if (Array.isArray(expected))
    return Array.isArray(actual) && actual.length === expected.length && expected.every((v, i) => actual[i] === v);
  return actual === expected;
}
function buildTree(spans) {
  const nodes = /* @__PURE__ */ new Map();
  const byStart = [...spans].sort((a, b) => a.startTimeMs - b.startTimeMs);
  for (const span of byStart) nodes.set(span.spanId, { ...span, children: [] });
  const roots = [];
  for (const node of nodes.values()) {
    const parent = node.parentSpanId === void 0 ? void 0 : nodes.get(node.parentSpanId);
    if (parent === void 0) roots.push(node);
    else parent.children.push(node);
  }
  return roots;
}

export { createTestTracing };
//# sourceMappingURL=testing.js.map
//# sourceMappingURL=testing.js.map