/**
 * The supervisor: runs each service instance as a child process
 * (`node <flags> --import @ballast/tracing/register dist/services/<svc>/index.js`, the service
 * built by stack/build.ts; or its `.ts` entry with SHOP_TYPESCRIPT=1), prefixes and colours its
 * log lines, keeps the last lines per instance, waits for `/readyz`, and stops instances
 * gracefully (SIGTERM, wait, then SIGKILL). An instance never restarts by itself: a killed one
 * stays down until the control API restarts it (the scenarios need to see the fault).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { createInterface } from 'node:readline';

const COLORS = [36, 33, 35, 32, 34, 91, 92, 93, 94, 95, 96, 31];

export type InstanceState = 'starting' | 'ready' | 'stopping' | 'stopped' | 'exited' | 'killed';

export interface InstanceSpec {
  id: string;
  service: string;
  port: number;
  script: string;
  env: Record<string, string>;
}

export interface Instance extends InstanceSpec {
  pid: number | undefined;
  state: InstanceState;
  startedAt: number;
  readyAt: number | undefined;
  exitCode: number | null;
  signal: string | null;
  restarts: number;
  logs: string[];
  child: ChildProcess | undefined;
  exited: Promise<void>;
}

export interface SupervisorOptions {
  cwd: string;
  /** Where prefixed log lines go; default stdout. */
  log?: ((line: string, instance: Instance) => void) | undefined;
  /** Extra node flags for every child. */
  nodeFlags?: string[] | undefined;
  /** How long a stopped instance gets between SIGTERM and SIGKILL. */
  graceMs?: number | undefined;
  color?: boolean | undefined;
}

/** One GET on a fresh connection (no keep-alive: each poll may reach another process on a shared port). */
function probe(port: number, path: string): Promise<{ status: number; body: string } | undefined> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false, timeout: 1_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', () => resolve(undefined));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(undefined));
    req.end();
  });
}

export function rssMb(pid: number | undefined): number {
  if (!pid) return 0;
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const match = /VmRSS:\s+(\d+) kB/.exec(status);
    return match ? Number(match[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

/**
 * Proportional set size: private pages plus each shared page divided by the processes sharing it.
 * Summed over processes it is what they really take (RSS counts the node binary's text, ~57 MB,
 * once per process).
 */
export function pssMb(pid: number | undefined): number {
  if (!pid) return 0;
  try {
    const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
    const match = /^Pss:\s+(\d+) kB/m.exec(rollup);
    return match ? Number(match[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

export class Supervisor {
  readonly instances = new Map<string, Instance>();
  readonly options: SupervisorOptions;
  private colorIndex = 0;
  private readonly colors = new Map<string, number>();

  constructor(options: SupervisorOptions) {
    this.options = options;
  }

  private prefix(instance: Instance): string {
    const width = 16;
    const label = instance.id.padEnd(width);
    if (this.options.color === false) return `${label}|`;
    let color = this.colors.get(instance.service);
    if (color === undefined) {
      color = COLORS[this.colorIndex++ % COLORS.length] as number;
      this.colors.set(instance.service, color);
    }
    return `\x1b[${color}m${label}|\x1b[0m`;
  }

  private emit(instance: Instance, line: string): void {
    instance.logs.push(line);
    if (instance.logs.length > 300) instance.logs.splice(0, instance.logs.length - 300);
    if (this.options.log) this.options.log(line, instance);
    else process.stdout.write(`${this.prefix(instance)} ${line}\n`);
  }

  /** Starts (or restarts, same id and port) an instance; resolves once spawned, not ready. */
  start(spec: InstanceSpec): Instance {
    const previous = this.instances.get(spec.id);
    if (previous?.child && previous.child.exitCode === null && previous.child.signalCode === null)
      throw new Error(`${spec.id} is still running`);
    const child = spawn(
      process.execPath,
      [...(this.options.nodeFlags ?? []), '--import', '@ballast/tracing/register', spec.script],
      {
        cwd: this.options.cwd,
        env: { ...process.env, ...spec.env },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let resolveExit!: () => void;
    const instance: Instance = {
      ...spec,
      pid: child.pid,
      state: 'starting',
      startedAt: Date.now(),
      readyAt: undefined,
      exitCode: null,
      signal: null,
      restarts: previous ? previous.restarts + 1 : 0,
      logs: previous?.logs ?? [],
      child,
      exited: new Promise<void>((resolve) => {
        resolveExit = resolve;
      }),
    };
    this.instances.set(spec.id, instance);
    for (const stream of [child.stdout, child.stderr]) {
      if (stream)
        createInterface({ input: stream }).on('line', (line) => this.emit(instance, line));
    }
    child.on('error', (error) => this.emit(instance, `spawn failed: ${error.message}`));
    child.on('exit', (code, signal) => {
      instance.exitCode = code;
      instance.signal = signal;
      if (instance.state !== 'killed')
        instance.state = instance.state === 'stopping' ? 'stopped' : 'exited';
      this.emit(instance, `exited (${signal ?? `code ${code}`})`);
      resolveExit();
    });
    return instance;
  }

  /**
   * Polls until the instance is ready; rejects when the process exits first or after `timeoutMs`.
   * Each poll opens a new connection and reads `/health`, which names the instance that answered:
   * with `reusePort` the old process of a rolling restart answers on the same port, and its
   * `/readyz` must not count for the new one.
   */
  async waitReady(instance: Instance, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let exited = false;
    void instance.exited.then(() => {
      exited = true;
    });
    while (Date.now() < deadline) {
      if (exited)
        throw new Error(
          `${instance.id} exited before it was ready (${instance.signal ?? `code ${instance.exitCode}`}); last lines:\n${instance.logs.slice(-15).join('\n')}`,
        );
      // /health answers 200 only when ready, and names the instance
      const health = await probe(instance.port, '/health');
      if (
        health?.status === 200 &&
        health.body.includes(`"${instance.id}"`) &&
        !health.body.includes('"draining"')
      ) {
        instance.state = 'ready';
        instance.readyAt = Date.now();
        return;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(
      `${instance.id} not ready within ${timeoutMs} ms; last lines:\n${instance.logs.slice(-15).join('\n')}`,
    );
  }

  /** SIGTERM, wait up to `graceMs`, then SIGKILL. Resolves when the process is gone. */
  async stop(id: string, graceMs = this.options.graceMs ?? 10_000): Promise<void> {
    const instance = this.instances.get(id);
    if (!instance?.child || instance.child.exitCode !== null || instance.child.signalCode !== null)
      return;
    instance.state = 'stopping';
    instance.child.kill('SIGTERM');
    const timer = setTimeout(() => {
      this.emit(instance, `did not stop within ${graceMs} ms: SIGKILL`);
      instance.child?.kill('SIGKILL');
    }, graceMs);
    await instance.exited;
    clearTimeout(timer);
  }

  /** SIGKILL at once (a crash). */
  async kill(id: string): Promise<void> {
    const instance = this.instances.get(id);
    if (!instance?.child || instance.child.exitCode !== null || instance.child.signalCode !== null)
      return;
    instance.state = 'killed';
    instance.child.kill('SIGKILL');
    await instance.exited;
  }

  running(): Instance[] {
    return [...this.instances.values()].filter(
      (i) => i.child && i.child.exitCode === null && i.child.signalCode === null,
    );
  }

  /** Stops every instance at once (SIGTERM, grace, SIGKILL). */
  async stopAll(graceMs?: number): Promise<void> {
    await Promise.all(this.running().map((i) => this.stop(i.id, graceMs)));
  }

  /** Last resort on exit: SIGKILL whatever still runs (synchronous). */
  killAllSync(): void {
    for (const i of this.running()) i.child?.kill('SIGKILL');
  }
}
