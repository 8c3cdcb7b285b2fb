import type { Request, RequestHandler } from 'express';
import type { Health } from '../lifecycle/health.ts';
import { type ProbesOptions, probeRoutes } from '../lifecycle/probes.ts';

/**
 * Express middleware answering the health probes (`GET`/`HEAD` on `/livez`, `/readyz`,
 * `/health`, relative to where it is mounted); every other request goes to `next()`.
 *
 * @example
 * app.use(probes(health, { showDetails: (req) => req.ip === '127.0.0.1' }));
 */
export function probes(health: Health, options?: ProbesOptions<Request>): RequestHandler {
  const routes = probeRoutes(health, options, 'probes()');
  return (req, res, next) => {
    const kind = routes.match(req.method, req.path);
    if (kind === undefined) {
      next();
      return;
    }
    routes.answer(kind, req, req.method === 'HEAD').then((answer) => {
      res.status(answer.statusCode).set(answer.headers).end(answer.body);
    }, next);
  };
}

export type { ProbesOptions } from '../lifecycle/probes.ts';
