import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Health } from '../lifecycle/health.ts';
import { type ProbesOptions, probeRoutes } from '../lifecycle/probes.ts';

/**
 * The health probes for a `node:http` server: resolves to `true` when it answered the request
 * (`GET`/`HEAD` on `/livez`, `/readyz` or `/health`), `false` when the request is yours.
 *
 * @example
 * const answerProbe = probes(health);
 * createServer(async (req, res) => {
 *   if (await answerProbe(req, res)) return;
 *   res.end('hello');
 * });
 */
export function probes(
  health: Health,
  options?: ProbesOptions<IncomingMessage>,
): (req: IncomingMessage, res: ServerResponse) => Promise<boolean> {
  const routes = probeRoutes(health, options, 'probes()');
  return async (req, res) => {
    const url = req.url ?? '/';
    const query = url.indexOf('?');
    const kind = routes.match(req.method, query === -1 ? url : url.slice(0, query));
    if (kind === undefined) return false;
    const answer = await routes.answer(kind, req, req.method === 'HEAD');
    if (!res.headersSent) res.writeHead(answer.statusCode, answer.headers);
    res.end(answer.body);
    return true;
  };
}

export type { ProbesOptions } from '../lifecycle/probes.ts';
