import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startHttpServer, type TestHttpServer } from '@ballast/test-utils';
import type {} from '@ballast/test-utils/global-setup';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
// @ts-expect-error a plain .mjs test fixture without types
import { startReceiver } from './fixtures/otlp-receiver.mjs';

interface ReceivedSpan {
  service: string;
  traceId: string;
  spanId: string;
  parentSpanId: string | undefined;
  name: string;
  kind: number;
  attributes: Record<string, unknown>;
}
interface Receiver {
  url: string;
  spans: ReceivedSpan[];
  metricsRequests(): number;
  close(): Promise<void>;
}

const require = createRequire(import.meta.url);
const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));

interface Child {
  process: ChildProcess;
  stdout: string[];
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Runs `node <flags> <file>` in packages/tracing, so `@ballast/tracing` resolves to the built package. */
function run(flags: string[], file: string, env: NodeJS.ProcessEnv): Child {
  const child = spawn(process.execPath, [...flags, fixture(file)], {
    cwd: fileURLToPath(new URL('..', import.meta.url)),
    env: { ...process.env, NODE_OPTIONS: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stdout: string[] = [];
  let stderr = '';
  let partial = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    partial += chunk.toString();
    const lines = partial.split('\n');
    partial = lines.pop() ?? '';
    stdout.push(...lines);
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return { process: child, stdout, stderr: () => stderr, exited };
}

async function listening(child: Child): Promise<string> {
  for (let i = 0; i < 400; i++) {
    const line = child.stdout.find((l) => l.startsWith('listening '));
    if (line !== undefined) return line.slice('listening '.length);
    if (child.process.exitCode !== null) break;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`the app did not start: ${child.stderr()}`);
}

let receiver: Receiver;
let downstream: TestHttpServer;
const downstreamHeaders: (string | undefined)[] = [];
const id = randomUUID();

beforeAll(async () => {
  receiver = (await startReceiver()) as Receiver;
  downstream = await startHttpServer((req, res) => {
    downstreamHeaders.push(req.headers.traceparent as string | undefined);
    res.end('12');
  });
  const redis = new Redis(inject('redisUrl'));
  await redis.set(`tracing-child:${id}`, 'cached-value', 'EX', 60);
  redis.disconnect();
});
afterAll(async () => {
  await downstream.close();
  await receiver.close();
});

describe.each([
  {
    kind: 'ESM',
    flags: ['--import', '@ballast/tracing/register'],
    file: 'app-esm.mjs',
    protocol: 'http/protobuf',
  },
  {
    kind: 'CommonJS',
    flags: ['--require', '@ballast/tracing/register'],
    file: 'app-cjs.cjs',
    protocol: 'http/protobuf',
  },
  {
    kind: 'ESM',
    flags: ['--import', '@ballast/tracing/register'],
    file: 'app-esm.mjs',
    protocol: 'http/json',
  },
])('$kind app started with $flags.0, OTLP $protocol', ({ kind, flags, file, protocol }) => {
  it('exports server -> undici client and Redis as one trace, and pino lines carry its ids', async () => {
    const service = `child-${kind.toLowerCase()}-${protocol.slice(5)}-${id.slice(0, 8)}`;
    const metricsBefore = receiver.metricsRequests();
    const child = run(flags, file, {
      OTEL_SERVICE_NAME: service,
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_EXPORTER_OTLP_PROTOCOL: protocol,
      REDIS_URL: inject('redisUrl'),
      DOWNSTREAM_URL: downstream.url,
    });
    try {
      const url = await listening(child);
      const response = await fetch(`${url}/work/${id}`);
      expect(await response.json()).toEqual({ down: '12', cached: 'cached-value' });
    } finally {
      child.process.kill('SIGTERM');
    }
    const exit = await child.exited;
    // Without a SIGTERM handler of its own, the app ends by the signal, as it would untraced.
    if (kind === 'CommonJS') expect(exit.signal).toBe('SIGTERM');
    expect(child.stderr()).not.toMatch(/BallastTracingWarning/);
    // The app's counter went out through the same SDK (exported at shutdown).
    expect(receiver.metricsRequests()).toBeGreaterThan(metricsBefore);

    const spans = receiver.spans.filter((span) => span.service === service);
    const server = spans.find((span) => span.kind === 2);
    expect(server?.name).toBe('GET /work/:id');
    expect(server?.attributes['http.route']).toBe('/work/:id');
    const children = spans.filter((span) => span.parentSpanId === server?.spanId);
    expect(children.map((span) => span.name).sort()).toEqual(['GET', 'get']);
    // The request's trace is these three spans (ioredis's connection handshake traced apart).
    expect(spans.filter((span) => span.traceId === server?.traceId)).toHaveLength(3);
    for (const span of children) expect(span.traceId).toBe(server?.traceId);
    const client = children.find((span) => span.name === 'GET');
    expect(client?.attributes['url.full']).toBe(`${downstream.url}/stock`);
    expect(downstreamHeaders).toContain(`00-${server?.traceId}-${client?.spanId}-01`);
    const redis = children.find((span) => span.name === 'get');
    expect(redis?.attributes['db.system.name']).toBe('redis');

    const log = child.stdout
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .find((line) => line.msg === 'worked');
    expect(log).toMatchObject({
      trace_id: server?.traceId,
      span_id: server?.spanId,
      trace_flags: '01',
    });
  });
});

describe('shutdown', () => {
  it('SIGINT exports the spans not yet exported, then the process ends by the signal', async () => {
    const service = `sigint-${id.slice(0, 8)}`;
    const child = run(['--import', '@ballast/tracing/register'], 'app-http.mjs', {
      OTEL_SERVICE_NAME: service,
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
    });
    const url = await listening(child);
    await fetch(`${url}/one`).then((r) => r.text());
    child.process.kill('SIGINT');
    expect(await child.exited).toEqual({ code: null, signal: 'SIGINT' });
    // The batch processor's 5 s delay had not passed: only the signal's flush can have sent it.
    expect(receiver.spans.filter((span) => span.service === service)).toHaveLength(1);
  });

  it('a collector that never answers holds SIGTERM for shutdownTimeoutMs at most', async () => {
    const held: net.Socket[] = [];
    const silent = net.createServer((socket) => held.push(socket)); // accepts, never answers
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const dir = mkdtempSync(join(tmpdir(), 'tracing-shutdown-'));
    const config = join(dir, 'tracing.json');
    writeFileSync(config, JSON.stringify({ ballast: { tracing: { shutdownTimeoutMs: 300 } } }));
    try {
      const { port } = silent.address() as net.AddressInfo;
      const child = run(['--import', '@ballast/tracing/register'], 'app-http.mjs', {
        OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}`,
        BALLAST_TRACING_CONFIG: config,
      });
      const url = await listening(child);
      await fetch(`${url}/one`).then((r) => r.text());
      const signalled = performance.now();
      child.process.kill('SIGTERM');
      expect(await child.exited).toEqual({ code: null, signal: 'SIGTERM' });
      const tookMs = performance.now() - signalled;
      expect(tookMs).toBeGreaterThanOrEqual(250); // it did wait for the export…
      expect(tookMs).toBeLessThan(3_000); // …but not for the exporter's own 10 s timeout
    } finally {
      for (const socket of held) socket.destroy();
      silent.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('does not keep a process alive: a script that is done ends by itself', async () => {
    const child = run(['--import', '@ballast/tracing/register'], 'app-short.mjs', {
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
    });
    const started = performance.now();
    expect(await child.exited).toEqual({ code: 0, signal: null });
    expect(child.stdout).toContain('done');
    expect(performance.now() - started).toBeLessThan(5_000); // the batch delay is 5 s; API-copy check 1 s
  });
});

describe('start-up mistakes', () => {
  it('warns, naming the module, when pino was imported before tracing started', async () => {
    const child = run([], 'app-wrong-order.mjs', { OTEL_SERVICE_NAME: 'wrong-order' });
    await child.exited;
    expect(child.stderr()).toMatch(
      /BallastTracingWarning: pino was loaded before tracing started[^\n]*--import @ballast\/tracing\/register/,
    );
  });

  it('a bad option is a warning and a no-op, never a throw', async () => {
    const child = run([], 'app-bad-options.mjs', {});
    const exit = await child.exited;
    expect(exit.code).toBe(0);
    expect(JSON.parse(child.stdout[0] ?? '{}')).toEqual({
      state: 'failed',
      code: 'INVALID_OPTIONS',
      option: 'sampler',
    });
    expect(child.stderr()).toMatch(/BallastTracingWarning: startTracing\(\): option "sampler"/);
  });

  it('warns when two copies of @opentelemetry/api are loaded', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tracing-two-apis-'));
    try {
      const copy = join(dir, 'node_modules', '@opentelemetry', 'api');
      const main = require.resolve('@opentelemetry/api');
      const marker = '/node_modules/@opentelemetry/api';
      cpSync(main.slice(0, main.lastIndexOf(marker) + marker.length), copy, { recursive: true });
      const child = run([], 'app-two-apis.cjs', { SECOND_API_DIR: copy });
      await child.exited;
      expect(child.stderr()).toMatch(
        /BallastTracingWarning: 2 copies of @opentelemetry\/api are loaded/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reads options from the JSON file BALLAST_TRACING_CONFIG names (under ballast.tracing)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tracing-config-'));
    try {
      const file = join(dir, 'config.json');
      writeFileSync(
        file,
        JSON.stringify({
          ballast: {
            tracing: {
              serviceName: 'from-file',
              exporter: 'none',
              instrumentations: { pino: false, koa: false },
            },
          },
        }),
      );
      const child = run(['--import', '@ballast/tracing/register'], 'app-status.mjs', {
        BALLAST_TRACING_CONFIG: file,
      });
      await child.exited;
      expect(JSON.parse(child.stdout[0] ?? '{}')).toEqual({
        state: 'running',
        serviceName: 'from-file',
        instrumentations: ['http', 'undici', 'express', 'fastify', 'ioredis'],
      });
      expect(child.stderr()).toBe('');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('OTEL_SDK_DISABLED=true starts nothing, and the app still runs', async () => {
    const child = run(['--import', '@ballast/tracing/register'], 'app-bad-options.mjs', {
      OTEL_SDK_DISABLED: 'true',
    });
    const exit = await child.exited;
    expect(exit.code).toBe(0);
    // register started a disabled no-op first; the app's own startTracing() got that handle back.
    expect(JSON.parse(child.stdout[0] ?? '{}')).toMatchObject({ state: 'disabled' });
  });
});
