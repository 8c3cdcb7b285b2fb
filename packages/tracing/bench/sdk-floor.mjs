// The floor of any tracing built on the OpenTelemetry SDK, as the `sdk-floor` case: the hello world
// whose handler does only what the SDK itself needs per request, with nothing around it — no
// instrumentation hook, no context entered, no propagation, the SDK's default id generator.
// Each request starts a SERVER span through the SDK's tracer (same sampler as the other variants:
// parent-based ratio from OTEL_TRACES_SAMPLER_ARG), gives a recording span the four attributes
// semantic conventions require of an HTTP server span (method, path, scheme, status code), and
// ends it; the batch span processor and the OTLP/protobuf exporter (OTEL_EXPORTER_OTLP_ENDPOINT)
// are the SDK's, with their defaults, as in every other variant. An unsampled request costs
// exactly the SDK's startSpan and end of a non-recording span.
// With FLOOR_CONTEXT=1 (the `sdk-context-floor` case) the handler also runs with the span current,
// through the SDK's AsyncLocalStorageContextManager: what the API requires of any tracing whose
// child spans and log lines belong to the request.
// Prints "listening <url>" once it accepts connections.
import http from 'node:http';
import { context, ROOT_CONTEXT, SpanKind, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  BatchSpanProcessor,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
  TracerProvider,
} from '@opentelemetry/sdk-trace';

const ratio = Number(process.env.OTEL_TRACES_SAMPLER_ARG ?? 1);
const endpoint = process.env.OTEL_EXPORTER_OTLP_ENDPOINT ?? 'http://localhost:4318';
const provider = new TracerProvider({
  resource: resourceFromAttributes({ 'service.name': process.env.OTEL_SERVICE_NAME ?? 'floor' }),
  sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(ratio) }),
  spanProcessors: [
    new BatchSpanProcessor({ exporter: new OTLPTraceExporter({ url: `${endpoint}/v1/traces` }) }),
  ],
});
const tracer = provider.getTracer('sdk-floor');
const server = { kind: SpanKind.SERVER };

const withContext = process.env.FLOOR_CONTEXT === '1';
if (withContext) context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
const hello = (res) => {
  res.setHeader('content-type', 'text/plain');
  res.end('hello');
};

const app = http.createServer((req, res) => {
  const span = tracer.startSpan('GET', server, ROOT_CONTEXT);
  if (withContext) context.with(trace.setSpan(ROOT_CONTEXT, span), hello, undefined, res);
  else hello(res);
  if (span.isRecording()) {
    span.setAttribute('http.request.method', req.method);
    span.setAttribute('url.path', req.url);
    span.setAttribute('url.scheme', 'http');
    span.setAttribute('http.response.status_code', res.statusCode);
  }
  span.end();
});
app.listen(0, '127.0.0.1', () => {
  console.log(`listening http://127.0.0.1:${app.address().port}/hello`);
});
process.on('SIGTERM', () => {
  provider.shutdown().finally(() => process.exit(0));
});
