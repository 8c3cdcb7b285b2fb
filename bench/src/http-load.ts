import { type ChildProcess, spawn } from 'node:child_process';
import autocannon from 'autocannon';

/** Options of one HTTP load run against a server on 127.0.0.1. */
export interface LoadOptions {
  url: string;
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  connections?: number;
  durationMs?: number;
  /** Called before each request; lets a case send a fresh header per request. */
  setupRequest?: (request: { headers?: Record<string, string>; body?: string }) => typeof request;
}

/** Requests per second (mean over the run) that a server sustains; non-2xx answers count as errors. */
export async function requestsPerSecond(options: LoadOptions): Promise<number> {
  const result = await autocannon({
    url: options.url,
    method: (options.method ?? 'GET') as 'GET',
    headers: options.headers,
    body: options.body,
    connections: options.connections ?? 16,
    duration: (options.durationMs ?? 3_000) / 1000,
    requests: options.setupRequest ? [{ setupRequest: options.setupRequest as never }] : undefined,
  });
  const failed = result.non2xx + result.errors + result.timeouts;
  if (failed > 0) {
    throw new Error(
      `${failed} of ${result.requests.total} requests failed (non-2xx, errors or timeouts)`,
    );
  }
  return result.requests.average;
}

/** A server running in a child process of its own. */
export interface ServerProcess {
  readonly url: string;
  stop(): Promise<void>;
}

/**
 * Starts `node <file> ...args` and waits for it to print `listening <url>` on stdout, so the
 * server under load does not share a process (or an event loop) with the load generator.
 */
export function startServerProcess(
  file: string,
  args: string[] = [],
  env: NodeJS.ProcessEnv = {},
): Promise<ServerProcess> {
  return new Promise((resolve, reject) => {
    const child: ChildProcess = spawn(process.execPath, [file, ...args], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, ...env },
    });
    const exited = new Promise<void>((done) => child.once('exit', () => done()));
    let out = '';
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      const match = /listening (\S+)/.exec(out);
      if (match) {
        child.stdout?.off('data', onData);
        child.stdout?.resume();
        resolve({
          url: match[1]!,
          stop: async () => {
            child.kill('SIGTERM');
            await exited;
          },
        });
      }
    };
    child.stdout?.on('data', onData);
    child.once('exit', (code) =>
      reject(new Error(`server ${file} exited with ${code} before listening`)),
    );
  });
}
