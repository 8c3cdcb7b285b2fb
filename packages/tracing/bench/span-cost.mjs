// CPU per request of the server instrumentation alone, in one process: Node's
// http.server.request.start / http.server.response.finish messages are published for fake
// requests (Express-shaped: req.route, req.baseUrl), so only the tracing work is measured — span
// start, attributes, context entry, end, the batch processor and (with SPAN_COST_EXPORT=otlp) the
// OTLP/protobuf encoding and the export to a local sink.
//   node bench/span-cost.mjs [variant]   variant: none | sampled | unsampled | ratio
//   (ratio: parent-based SPAN_COST_RATIO, default 0.1, of requests without trace context)
//   SPAN_COST_EXPORT=none|otlp (default none)   SPAN_COST_N (default 200000)
import dc from 'node:diagnostics_channel';
import { EventEmitter } from 'node:events';
import { setImmediate as tick } from 'node:timers/promises';

const variant = process.argv[2] ?? 'sampled';
const exportTo = process.env.SPAN_COST_EXPORT ?? 'none';
const n = Number(process.env.SPAN_COST_N ?? 200_000);
let sink;
if (variant !== 'none') {
  const { startTracing } = await import('@ballast/tracing');
  let endpoint;
  if (exportTo === 'otlp') {
    // The sink runs in a process of its own, so its decoding is not counted here.
    const { spawn } = await import('node:child_process');
    const child = spawn(process.execPath, [new URL('./sink.mjs', import.meta.url).pathname], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, NODE_OPTIONS: '' },
    });
    endpoint = await new Promise((resolve) => {
      let out = '';
      child.stdout.on('data', (chunk) => {
        out += chunk;
        const match = /listening (\S+)/.exec(out);
        if (match) resolve(match[1]);
      });
    });
    sink = child;
  }
  globalThis.tracing = startTracing({
    serviceName: 'span-cost',
    exporter: exportTo === 'otlp' ? 'otlp' : 'none',
    ...(endpoint && { endpoint }),
    sampler:
      variant === 'unsampled'
        ? 0
        : variant === 'ratio'
          ? Number(process.env.SPAN_COST_RATIO ?? 0.1)
          : 1,
    metrics: false,
    handleSignals: false,
  });
}
const start = dc.channel('http.server.request.start');
const finish = dc.channel('http.server.response.finish');
const socket = { remoteAddress: '127.0.0.1', encrypted: false };
function once() {
  const request = {
    method: 'GET',
    url: '/users/42?x=1',
    headers: { host: '127.0.0.1:3000', 'user-agent': 'load/1.0', accept: '*/*' },
    rawHeaders: ['Host', '127.0.0.1:3000', 'User-Agent', 'load/1.0', 'Accept', '*/*'],
    socket,
  };
  const response = new EventEmitter();
  response.statusCode = 200;
  response.req = request;
  const message = { request, response, socket, server: null };
  start.publish(message);
  request.route = { path: '/users/:id' };
  request.baseUrl = '';
  finish.publish(message);
  response.emit('close');
}
async function run(count) {
  for (let i = 0; i < count; i++) {
    once();
    if (i % 256 === 255) await tick(); // let timers (the batch processor) run, as a server would
  }
}
await run(20_000); // warm-up
await globalThis.tracing?.flush();
const cpu0 = process.cpuUsage();
const t0 = performance.now();
await run(n);
await globalThis.tracing?.flush();
const cpu = process.cpuUsage(cpu0);
const wall = performance.now() - t0;
const us = (cpu.user + cpu.system) / n;
console.log(
  JSON.stringify({
    variant,
    export: exportTo,
    n,
    cpuUsPerRequest: +us.toFixed(2),
    wallUsPerRequest: +((wall * 1000) / n).toFixed(2),
    spansExported: globalThis.tracing?.status().spansExported,
  }),
);
await globalThis.tracing?.shutdown();
sink?.kill();
process.exit(0);
