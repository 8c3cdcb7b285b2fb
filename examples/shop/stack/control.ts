/**
 * The control API (HTTP, 127.0.0.1 only) for the scenarios and the dashboard:
 *   GET  /stack                         URLs, time to ready, stack RSS
 *   GET  /processes                     every instance (and redis) with pid, port, state, RSS
 *   GET  /processes/:id/logs            its last log lines
 *   POST /processes/:id/kill            SIGKILL (a crash; it stays down)
 *   POST /processes/:id/stop            graceful stop (SIGTERM, drain, then SIGKILL after 10 s)
 *   POST /processes/:id/start           start a stopped/killed instance again (same id and port)
 *   POST /processes/:id/restart         graceful stop, then start (same id and port)
 *   POST /processes/:id/replace         start a replacement, wait ready, then stop this one
 *   POST /rolling-restart[?service=x]   replace every instance one by one
 *   POST /orders/leader/kill            SIGKILL the orders instance that leads the expiry job
 *   POST /redis/pause {"ms":2000}       CLIENT PAUSE <ms> ALL
 *   GET  /config                        the live config document (Redis)
 *   PUT  /config {...}                  deep-merge into it (null deletes), bump version, SET + PUBLISH;
 *                                       PUT /config?replace=1 replaces the whole document
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Stack } from './stack.ts';

async function body(req: IncomingMessage): Promise<Record<string, unknown>> {
  let text = '';
  for await (const chunk of req) text += chunk;
  if (!text.trim()) return {};
  const value = JSON.parse(text) as unknown;
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new Error('the body must be a JSON object');
  return value as Record<string, unknown>;
}

function send(res: ServerResponse, status: number, value: unknown): void {
  const text = JSON.stringify(value, null, 2);
  res.writeHead(status, { 'content-type': 'application/json', 'access-control-allow-origin': '*' });
  res.end(text);
}

export async function startControlApi(
  stack: Stack,
  port: number,
): Promise<{ url: string; close(): Promise<void> }> {
  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://control');
    const parts = url.pathname.split('/').filter(Boolean);
    const method = req.method ?? 'GET';
    try {
      if (method === 'GET' && url.pathname === '/stack')
        return send(res, 200, {
          gateway: stack.gatewayUrl,
          issuer: stack.issuerUrl,
          otlp: stack.otlpUrl,
          redis: stack.redisUrl,
          readyS: stack.readyS,
          rssMb: stack.stackRssMb(),
          pssMb: stack.stackPssMb(),
        });
      if (method === 'GET' && url.pathname === '/processes')
        return send(res, 200, { processes: stack.processes() });
      if (parts[0] === 'processes' && parts.length === 3) {
        const id = decodeURIComponent(parts[1] as string);
        const action = parts[2];
        const instance = stack.supervisor.instances.get(id);
        if (!instance) return send(res, 404, { error: 'unknown_instance', id });
        if (method === 'GET' && action === 'logs')
          return send(res, 200, { id, lines: instance.logs });
        if (method !== 'POST') return send(res, 405, { error: 'method_not_allowed' });
        if (action === 'kill') await stack.supervisor.kill(id);
        else if (action === 'stop') await stack.supervisor.stop(id);
        else if (action === 'start' || action === 'restart') {
          const fresh = action === 'start' ? await stack.start(id) : await stack.restart(id);
          return send(res, 200, { id, action, now: fresh.id, state: fresh.state });
        } else if (action === 'replace') {
          const fresh = await stack.replace(id);
          return send(res, 200, { replaced: id, by: fresh.id });
        } else return send(res, 404, { error: 'unknown_action', action });
        return send(res, 200, { id, action, state: stack.supervisor.instances.get(id)?.state });
      }
      if (method === 'POST' && url.pathname === '/rolling-restart') {
        const steps: string[] = [];
        await stack.rollingRestart(url.searchParams.get('service') ?? undefined, (s) =>
          steps.push(s),
        );
        return send(res, 200, { steps });
      }
      if (method === 'POST' && url.pathname === '/orders/leader/kill') {
        const leader = await stack.findLeader();
        if (!leader)
          return send(res, 409, {
            error: 'no_leader',
            message: 'no orders instance reports leadership',
          });
        await stack.supervisor.kill(leader.id);
        return send(res, 200, { killed: leader.id });
      }
      if (method === 'POST' && url.pathname === '/redis/pause') {
        const { ms = 2000 } = (await body(req)) as { ms?: number };
        if (typeof ms !== 'number' || ms < 1 || ms > 60_000)
          return send(res, 400, { error: 'ms must be 1..60000' });
        await stack.pauseRedis(ms);
        return send(res, 200, { paused: ms });
      }
      if (url.pathname === '/config') {
        if (method === 'GET') return send(res, 200, await stack.readConfig());
        if (method === 'PUT' || method === 'PATCH') {
          const result = await stack.pushConfig(await body(req), {
            merge: url.searchParams.get('replace') !== '1',
          });
          return send(res, 200, result);
        }
      }
      return send(res, 404, { error: 'not_found' });
    } catch (error) {
      return send(res, 500, { error: 'failed', message: (error as Error).message });
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const address = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${address.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
