// CPU time per request of a server process (and of the OTLP sink), which a shared machine's load
// moves far less than req/s: `node bench/cpu-per-request.mjs <app> <variant> [requests]`, app
// http | express | fastify; variant bare | ballast | ballast-unsampled (always_off) |
// ballast-noexport (OTEL_TRACES_EXPORTER=none) | fastify-otel (ballast plus @fastify/otel) |
// sdk-floor (app http only: bench/sdk-floor.mjs, the SDK's own minimum per request). CPU_RATIO
// (default 1) is the parent-based sampling ratio. A fixed number of requests (after a warm-up of
// 30,000, long enough for the first export, which loads the exporter, to happen before the
// measurement at 10 %) from autocannon, spans exported to bench/sink.mjs; utime + stime from
// /proc/<pid>/stat (Linux) before and after, for the server and for the sink.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import autocannon from 'autocannon';

const [app = 'express', variant = 'ballast', count = '30000'] = process.argv.slice(2);
const here = (file) => new URL(file, import.meta.url).pathname;
const TICK_US = 10_000; // USER_HZ = 100

function start(file, env) {
  const child = spawn(process.execPath, [file], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, NODE_OPTIONS: '', ...env },
  });
  return new Promise((resolve) => {
    let out = '';
    child.stdout.on('data', (chunk) => {
      out += chunk;
      const match = /listening (\S+)/.exec(out);
      if (match) resolve({ child, url: match[1] });
    });
  });
}
const cpuUs = (pid) => {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) * TICK_US;
};
const load = (url, amount) => autocannon({ url, connections: 16, amount, pipelining: 1 });

const sink = await start(here('./sink.mjs'), {});
const env = {
  OTEL_SERVICE_NAME: 'cpu',
  OTEL_EXPORTER_OTLP_ENDPOINT: new URL(sink.url).origin,
  OTEL_METRICS_EXPORTER: 'none',
  OTEL_TRACES_SAMPLER: variant === 'ballast-unsampled' ? 'always_off' : 'parentbased_traceidratio',
  OTEL_TRACES_SAMPLER_ARG: process.env.CPU_RATIO ?? '1',
  ...(variant.startsWith('ballast') && { NODE_OPTIONS: '--import @ballast/tracing/register' }),
  ...(variant === 'ballast-noexport' && { OTEL_TRACES_EXPORTER: 'none' }),
  ...(variant === 'fastify-otel' && { NODE_OPTIONS: `--import ${here('./fastify-otel.mjs')}` }),
};
const file = variant === 'sdk-floor' ? './sdk-floor.mjs' : `./hello-${app}.mjs`;
const server = await start(here(file), env);
await load(server.url, 30_000);
const s0 = cpuUs(server.child.pid);
const k0 = cpuUs(sink.child.pid);
const result = await load(server.url, Number(count));
await new Promise((r) => setTimeout(r, 1_500)); // the last scheduled export
const server1 = cpuUs(server.child.pid) - s0;
const sink1 = cpuUs(sink.child.pid) - k0;
const n = result.requests.total;
console.log(
  JSON.stringify({
    app,
    variant,
    requests: n,
    serverUs: +(server1 / n).toFixed(1),
    sinkUs: +(sink1 / n).toFixed(1),
    rps: Math.round(result.requests.average),
    errors: result.errors + result.non2xx,
  }),
);
server.child.kill('SIGTERM');
sink.child.kill('SIGTERM');
