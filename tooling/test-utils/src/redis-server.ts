import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { connect } from 'node:net';
import { freePort } from './free-port.ts';

/** A private redis-server started for a test run. */
export interface RedisServer {
  /** `redis://127.0.0.1:<port>` */
  readonly url: string;
  readonly port: number;
  /** Process id of the redis-server. */
  readonly pid: number;
  /** Stops the server and resolves once the process has exited. */
  stop(): Promise<void>;
}

const INSTALL_HINT =
  'redis-server was not found on PATH. The integration tests need a real Redis: install it ' +
  '(Debian/Ubuntu: `sudo apt-get install -y redis-server`, macOS: `brew install redis`) ' +
  'or point REDIS_URL at a Redis you run yourself (e.g. REDIS_URL=redis://127.0.0.1:6379).';

/** Fails at once, with the install hint, when redis-server is not installed. */
export function assertRedisInstalled(): void {
  const probe = spawnSync('redis-server', ['--version'], { stdio: 'ignore' });
  if (probe.error || probe.status !== 0) throw new Error(INSTALL_HINT);
}

/**
 * Starts `redis-server` bound to 127.0.0.1 on a free port (or on `port`: e.g. the port of a server
 * just stopped, to restart it with empty memory), with no persistence (no RDB, no AOF), and waits
 * until it answers PING.
 */
export async function startRedisServer(
  options: { startTimeoutMs?: number; port?: number } = {},
): Promise<RedisServer> {
  assertRedisInstalled();
  const port = options.port ?? (await freePort());
  const child = spawn(
    'redis-server',
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--protected-mode',
      'yes',
      '--daemonize',
      'no',
      '--loglevel',
      'warning',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    await waitForPong(port, child, options.startTimeoutMs ?? 5_000);
  } catch (error) {
    child.kill('SIGKILL');
    await exited;
    throw new Error(
      `redis-server did not start on port ${port}: ${(error as Error).message}\n${stderr}`,
    );
  }
  const pid = child.pid ?? -1;
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    pid,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

async function waitForPong(port: number, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`exited with code ${child.exitCode}`);
    if (await ping(port)) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`no PONG within ${timeoutMs} ms`);
}

function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.setTimeout(500);
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (data) => {
      socket.destroy();
      resolve(data.toString().startsWith('+PONG'));
    });
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
  });
}
