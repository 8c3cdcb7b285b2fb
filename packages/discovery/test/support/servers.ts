import type { IncomingMessage, ServerResponse } from 'node:http';
import { startHttpServer, type TestHttpServer } from '@ballast/test-utils';

/** How a test instance answers. */
export type Behaviour =
  | { kind: 'ok' }
  | { kind: 'slow'; delayMs: number }
  | { kind: 'status'; status: number }
  /** Holds every request open until the test kills the server. */
  | { kind: 'hang' };

/** An HTTP server on 127.0.0.1 standing for one instance; counts what it received. */
export interface TestInstance {
  readonly name: string;
  readonly port: number;
  readonly server: TestHttpServer;
  behaviour: Behaviour;
  /** Requests received, as `METHOD /path`. */
  readonly received: string[];
  /** Requests received and not answered yet. */
  readonly pending: Set<ServerResponse>;
  /** Closes the server and destroys its sockets: what a killed process does to its clients. */
  kill(): Promise<void>;
}

export async function startInstance(
  name: string,
  behaviour: Behaviour = { kind: 'ok' },
): Promise<TestInstance> {
  const pending = new Set<ServerResponse>();
  const received: string[] = [];
  let killed = false;
  const instance: TestInstance = {
    name,
    port: 0,
    server: undefined as unknown as TestHttpServer,
    behaviour,
    received,
    pending,
    kill: async () => {
      if (killed) return;
      killed = true;
      await server.close();
    },
  };
  const answer = (res: ServerResponse, status: number): void => {
    pending.delete(res);
    if (res.destroyed) return;
    res.writeHead(status, { 'content-type': 'text/plain', 'x-instance': name });
    res.end(name);
  };
  const server = await startHttpServer((req: IncomingMessage, res: ServerResponse) => {
    req.resume();
    req.on('end', () => {
      received.push(
        `${req.method} ${req.url}${req.headers['x-test'] ? ` ${req.headers['x-test']}` : ''}`,
      );
      pending.add(res);
      const b = instance.behaviour;
      if (b.kind === 'ok') answer(res, 200);
      else if (b.kind === 'status') answer(res, b.status);
      else if (b.kind === 'slow') setTimeout(() => answer(res, 200), b.delayMs);
      // 'hang': answered never (until killed)
    });
  });
  Object.assign(instance, { port: server.port, server });
  return instance;
}
