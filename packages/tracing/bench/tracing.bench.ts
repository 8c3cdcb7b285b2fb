import { spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import {
  type BenchCase,
  defineBench,
  median,
  requestsPerSecond,
  startServerProcess,
} from '@ballast/bench';

// req/s of a hello-world node:http server and a one-route Express app, each variant in a process
// of its own, with spans exported over OTLP/HTTP (protobuf) to a sink process that counts them;
// and start-up time, from spawning the process to the server accepting connections.
//
//   bare       no tracing
//   ballast    --import @ballast/tracing/register, defaults (metrics on, OTLP/protobuf)
//   otel-lean  NodeSDK with only @opentelemetry/instrumentation-http, batch processor, OTLP/protobuf
//   otel-auto  --import @opentelemetry/auto-instrumentations-node/register, after the loader hook
//              its README asks ESM apps to add (otel-auto.mjs)
//   fastify-otel      ballast plus @fastify/otel (fastify-otel.mjs): what the package would cost
//                     per Fastify request built on @fastify/otel, as the design notes say
//   sdk-node-import   (startup) the hello world with @opentelemetry/sdk-node's entry imported and
//                     nothing started: the start-up floor of building on sdk-node
//   sdk-floor  (node:http groups) the hello world doing per request only what the OpenTelemetry SDK
//              needs: a span started and ended through its tracer, same sampler, batch processor and
//              exporter, no instrumentation, no context, no propagation (sdk-floor.mjs) — the floor
//              of any tracing built on the SDK, which the issue requires
//   sdk-context-floor  (http-server-sampled) sdk-floor plus what the API requires of any tracing
//              whose child spans and log lines belong to the request: the span made current for
//              the handler through the SDK's own AsyncLocalStorageContextManager (FLOOR_CONTEXT=1)
//
// A variant that exports nothing would be a broken measurement: every traced case checks that the
// sink received spans, and the counts per case and round are kept in bench/sink-counts.json.

const here = (file: string) => fileURLToPath(new URL(file, import.meta.url));
const HTTP_APP = here('./hello-http.mjs');
const EXPRESS_APP = here('./hello-express.mjs');
const FASTIFY_APP = here('./hello-fastify.mjs');
const FLOOR_APP = here('./sdk-floor.mjs');
const SINK = here('./sink.mjs');
const COUNTS = here('./sink-counts.json');
const OTEL_LEAN = pathToFileURL(here('./otel-lean.mjs')).href;
const OTEL_AUTO = pathToFileURL(here('./otel-auto.mjs')).href;
const FASTIFY_OTEL = pathToFileURL(here('./fastify-otel.mjs')).href;
const SDK_NODE_IMPORT = pathToFileURL(here('./sdk-node-import.mjs')).href;

type Variant =
  | 'bare'
  | 'ballast'
  | 'otel-lean'
  | 'otel-auto'
  | 'fastify-otel'
  | 'sdk-node-import'
  | 'sdk-floor'
  | 'sdk-context-floor';

function variantEnv(variant: Variant, ratio: number, endpoint: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    OTEL_SERVICE_NAME: `bench-${variant}`,
    OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
    OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
    OTEL_TRACES_SAMPLER_ARG: String(ratio),
    // No metric is recorded by these apps; only the periodic export would differ.
    OTEL_METRICS_EXPORTER: 'none',
    OTEL_LOGS_EXPORTER: 'none',
    NODE_OPTIONS: '',
  };
  if (variant === 'ballast') env.NODE_OPTIONS = '--import @ballast/tracing/register';
  if (variant === 'otel-lean') env.NODE_OPTIONS = `--import ${OTEL_LEAN}`;
  if (variant === 'otel-auto') env.NODE_OPTIONS = `--import ${OTEL_AUTO}`;
  if (variant === 'fastify-otel') env.NODE_OPTIONS = `--import ${FASTIFY_OTEL}`;
  if (variant === 'sdk-node-import') env.NODE_OPTIONS = `--import ${SDK_NODE_IMPORT}`;
  if (variant === 'sdk-context-floor') env.FLOOR_CONTEXT = '1';
  return env;
}

function recordCount(id: string, requests: number, spans: number): void {
  const all = existsSync(COUNTS)
    ? (JSON.parse(readFileSync(COUNTS, 'utf8')) as Record<string, unknown[]>)
    : {};
  all[id] = [...(all[id] ?? []), { requests, spans }];
  writeFileSync(COUNTS, `${JSON.stringify(all, null, 2)}\n`);
}

/**
 * A server in a child process, like the harness's `startServerProcess`, but `stop()` sends SIGTERM
 * and, if the process is still alive 5 s later, SIGKILL: auto-instrumentations-node's register
 * handles SIGTERM by shutting its SDK down without ending the process.
 */
function startApp(
  file: string,
  env: NodeJS.ProcessEnv,
): Promise<{ url: string; stop(): Promise<void> }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [file], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, ...env },
    });
    const exited = new Promise<void>((done) => child.once('exit', () => done()));
    let out = '';
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      const match = /listening (\S+)/.exec(out);
      if (match === null) return;
      child.stdout.off('data', onData);
      child.stdout.resume();
      resolve({
        url: match[1] as string,
        stop: async () => {
          child.kill('SIGTERM');
          const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
          await exited;
          clearTimeout(timer);
        },
      });
    };
    child.stdout.on('data', onData);
    child.once('exit', (code) => reject(new Error(`${file} exited with ${code} before listening`)));
  });
}

async function throughput(
  group: string,
  variant: Variant,
  app: string,
  ratio: number,
): Promise<number> {
  const countFile = join(tmpdir(), `ballast-tracing-sink-${process.pid}`);
  rmSync(countFile, { force: true });
  const sink = await startServerProcess(SINK, [], { SINK_COUNT_FILE: countFile, NODE_OPTIONS: '' });
  try {
    const server = await startApp(app, variantEnv(variant, ratio, new URL(sink.url).origin));
    let rps: number;
    const durationMs = 5_000;
    try {
      await requestsPerSecond({ url: server.url, durationMs: 1_000 }); // warm-up
      rps = await requestsPerSecond({ url: server.url, durationMs });
    } finally {
      await server.stop(); // SIGTERM: each variant flushes what it has left
    }
    await sink.stop();
    const spans = Number(readFileSync(countFile, 'utf8'));
    recordCount(`${group}/${variant}`, Math.round((rps * (durationMs + 1_000)) / 1_000), spans);
    if (variant !== 'bare' && spans === 0)
      throw new Error(`${group}/${variant}: the sink received no spans`);
    return rps;
  } finally {
    rmSync(countFile, { force: true });
  }
}

/** ms from spawn to the "listening" line (printed in the listen callback); median of fresh processes. */
async function startupMs(variant: Variant): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < 11; i++) {
    const env = { ...process.env, ...variantEnv(variant, 1, 'http://127.0.0.1:9') };
    const started = performance.now();
    const child = spawn(process.execPath, [HTTP_APP], { env, stdio: ['ignore', 'pipe', 'ignore'] });
    const ms = await new Promise<number>((resolve, reject) => {
      child.stdout.once('data', () => resolve(performance.now() - started));
      child.once('exit', (code) =>
        reject(new Error(`${variant} exited with ${code} before listening`)),
      );
    });
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));
    if (i > 0) times.push(ms); // the first spawn warms the file system cache
  }
  return median(times);
}

const cases: BenchCase[] = [];
/** The hello world, or the floor's own copy of it (which starts its spans itself). */
const httpApp = (variant: Variant) =>
  variant === 'sdk-floor' || variant === 'sdk-context-floor' ? FLOOR_APP : HTTP_APP;
for (const variant of ['bare', 'ballast', 'otel-lean', 'otel-auto', 'sdk-floor'] as const)
  cases.push({
    group: 'http-server',
    name: variant,
    unit: 'req/s',
    lowerIsBetter: false,
    run: () => throughput('http-server', variant, httpApp(variant), 1),
  });
for (const variant of ['bare', 'ballast', 'otel-lean', 'sdk-floor', 'sdk-context-floor'] as const)
  cases.push({
    group: 'http-server-sampled',
    name: variant,
    unit: 'req/s',
    lowerIsBetter: false,
    run: () => throughput('http-server-sampled', variant, httpApp(variant), 0.1),
  });
for (const variant of ['bare', 'ballast', 'otel-auto'] as const)
  cases.push({
    group: 'express',
    name: variant,
    unit: 'req/s',
    lowerIsBetter: false,
    run: () => throughput('express', variant, EXPRESS_APP, 1),
  });
for (const variant of ['bare', 'ballast', 'fastify-otel'] as const)
  cases.push({
    group: 'fastify',
    name: variant,
    unit: 'req/s',
    lowerIsBetter: false,
    run: () => throughput('fastify', variant, FASTIFY_APP, 1),
  });
for (const variant of ['bare', 'ballast', 'otel-auto', 'sdk-node-import'] as const)
  cases.push({
    group: 'startup',
    name: variant,
    unit: 'ms',
    lowerIsBetter: true,
    run: () => startupMs(variant),
  });

export default defineBench(cases);
