import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Health } from '../lifecycle/health.ts';
import { type ProbesOptions, probeRoutes } from '../lifecycle/probes.ts';

/** A Fastify plugin (`app.register(probes(health))`). */
export type ProbesPlugin = (app: FastifyInstance) => Promise<void>;

/**
 * A Fastify plugin adding the health probe routes (`GET`, and Fastify's automatic `HEAD`, on
 * `/livez`, `/readyz`, `/health`; under the register `prefix` if you give one).
 *
 * @example
 * await app.register(probes(health));
 */
export function probes(health: Health, options?: ProbesOptions<FastifyRequest>): ProbesPlugin {
  const routes = probeRoutes(health, options, 'probes()');
  const paths = (['live', 'ready', 'health'] as const).flatMap((kind) => {
    const path = options?.[`${kind}Path`] ?? `/${kind === 'health' ? 'health' : `${kind}z`}`;
    return path === false ? [] : [{ kind, path }];
  });
  return async (app) => {
    for (const { kind, path } of paths) {
      app.get(path, async (request, reply) => {
        const answer = await routes.answer(kind, request, request.method === 'HEAD');
        return reply.code(answer.statusCode).headers(answer.headers).send(answer.body);
      });
    }
  };
}

export type { ProbesOptions } from '../lifecycle/probes.ts';
