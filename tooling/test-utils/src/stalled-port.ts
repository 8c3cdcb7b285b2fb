import { type ChildProcess, spawn } from 'node:child_process';
import { connect, type Socket } from 'node:net';

/** A loopback port where a TCP connect never completes; `close()` frees it. */
export interface StalledPort {
  /** The port on 127.0.0.1. */
  readonly port: number;
  /** Kills the listener and the sockets that filled its queue. */
  close(): void;
}

/**
 * A port where a TCP connect never completes: a listener with backlog 1 in a child process whose
 * event loop is blocked (it never accepts), its accept queue filled first; further SYNs are
 * dropped by the kernel, so a connect waits until it gives up.
 */
export async function stalledPort(): Promise<StalledPort> {
  const child: ChildProcess = spawn(
    process.execPath,
    [
      '-e',
      `const net = require('node:net'); const fs = require('node:fs');
       const server = net.createServer();
       server.listen({ port: 0, host: '127.0.0.1', backlog: 1 }, () => {
         fs.writeSync(1, String(server.address().port) + '\\n');
         Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0); // never accepts again
       });`,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout!.once('data', (data: Buffer) => resolve(Number(data.toString().trim())));
    child.once('exit', (code) => reject(new Error(`stalled listener exited (${code})`)));
  });
  const fillers: Socket[] = [];
  for (let i = 0; i < 4; i++) fillers.push(connect(port, '127.0.0.1').on('error', () => {}));
  await new Promise((resolve) => setTimeout(resolve, 50)); // let the handshakes fill the queue
  return {
    port,
    close: () => {
      for (const socket of fillers) socket.destroy();
      child.kill('SIGKILL');
    },
  };
}
