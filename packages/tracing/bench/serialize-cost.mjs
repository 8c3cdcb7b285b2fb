// CPU per span of the OTLP encodings the exporters use (@opentelemetry/otlp-transformer's
// ProtobufTraceSerializer and JsonTraceSerializer), on 512 server spans shaped like Ballast's
// (10 attributes): `node bench/serialize-cost.mjs`.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { ProtobufTraceSerializer, JsonTraceSerializer } = require('@opentelemetry/otlp-transformer');
const { trace } = require('@opentelemetry/api');
const { startTracing } = await import('@ballast/tracing');

const spans = [];
const tracing = startTracing({
  exporter: {
    export: (batch, done) => {
      spans.push(...batch);
      done({ code: 0 });
    },
    shutdown: async () => {},
  },
  metrics: false,
  handleSignals: false,
});
const tracer = trace.getTracer('serialize-cost');
for (let i = 0; i < 512; i++) {
  const span = tracer.startSpan('GET /users/:id', { kind: 1 });
  span.setAttributes({
    'http.request.method': 'GET',
    'url.path': `/users/${i}`,
    'url.scheme': 'http',
    'server.address': '127.0.0.1',
    'server.port': 3000,
    'user_agent.original': 'load/1.0',
    'network.peer.address': '127.0.0.1',
    'http.response.status_code': 200,
    'http.route': '/users/:id',
  });
  span.end();
}
await tracing.flush();
for (const [name, serializer] of [
  ['protobuf', ProtobufTraceSerializer],
  ['json', JsonTraceSerializer],
]) {
  for (let i = 0; i < 50; i++) serializer.serializeRequest(spans); // warm-up
  const rounds = 200;
  const before = process.cpuUsage();
  let bytes = 0;
  for (let i = 0; i < rounds; i++) bytes = serializer.serializeRequest(spans).length;
  const cpu = process.cpuUsage(before);
  console.log(
    JSON.stringify({
      encoding: name,
      cpuUsPerSpan: +((cpu.user + cpu.system) / rounds / spans.length).toFixed(2),
      bytesPerSpan: Math.round(bytes / spans.length),
    }),
  );
}
await tracing.shutdown();
