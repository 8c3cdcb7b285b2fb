import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

/** One JSON line a contender process reported, with the parent's receive time. */
export interface ContenderEvent {
  readonly event: string;
  readonly token?: number;
  readonly at?: number;
  readonly reason?: string;
  readonly accepted?: boolean;
  readonly aborted?: boolean;
  readonly beforeExpiry?: boolean;
  /** `performance.now()` in the test process when the line arrived. */
  readonly receivedAt: number;
}

/** A contender running `lease-contender.ts` in a process of its own. */
export interface ContenderProcess {
  readonly id: string;
  readonly child: ChildProcess;
  readonly events: ContenderEvent[];
  /** Resolves with the first event so far or to come that matches; rejects after `timeoutMs`. */
  next(match: (event: ContenderEvent) => boolean, timeoutMs: number): Promise<ContenderEvent>;
  send(line: string): void;
  /** Resolves once the process has exited (SIGKILL after `timeoutMs`). */
  exited(timeoutMs?: number): Promise<void>;
}

const script = new URL('./lease-contender.ts', import.meta.url);

export function startContender(config: Record<string, unknown> & { id: string }): ContenderProcess {
  const child = spawn(process.execPath, [script.pathname, JSON.stringify(config)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const events: ContenderEvent[] = [];
  const waiters = new Set<() => void>();
  createInterface({ input: child.stdout! }).on('line', (line) => {
    let parsed: Omit<ContenderEvent, 'receivedAt'>;
    try {
      parsed = JSON.parse(line) as Omit<ContenderEvent, 'receivedAt'>;
    } catch {
      return;
    }
    events.push({ ...parsed, receivedAt: performance.now() });
    for (const wake of [...waiters]) wake();
  });
  let exitedWith: string | undefined;
  const exit = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exitedWith = signal ?? `code ${code}`;
      resolve();
      for (const wake of [...waiters]) wake();
    });
  });
  child.stdin!.on('error', () => {});
  return {
    id: config.id,
    child,
    events,
    next(match, timeoutMs) {
      return new Promise((resolve, reject) => {
        const check = (): boolean => {
          const found = events.find(match);
          if (found) {
            cleanup();
            resolve(found);
            return true;
          }
          if (exitedWith !== undefined) {
            cleanup();
            reject(
              new Error(
                `contender ${config.id} exited (${exitedWith}) before the event; got ${JSON.stringify(events)}`,
              ),
            );
            return true;
          }
          return false;
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(
            new Error(
              `contender ${config.id}: no matching event within ${timeoutMs} ms; got ${JSON.stringify(events)}`,
            ),
          );
        }, timeoutMs);
        const cleanup = (): void => {
          clearTimeout(timer);
          waiters.delete(onLine);
        };
        const onLine = (): void => {
          check();
        };
        if (!check()) waiters.add(onLine);
      });
    },
    send(line) {
      child.stdin!.write(`${line}\n`);
    },
    async exited(timeoutMs = 5000) {
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      await exit;
      clearTimeout(timer);
    },
  };
}
