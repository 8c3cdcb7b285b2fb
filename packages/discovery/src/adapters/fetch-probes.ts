import type { Health } from '../lifecycle/health.ts';
import { type ProbesOptions, probeRoutes } from '../lifecycle/probes.ts';

/** The part of a Hono `Context` the middleware uses. */
export interface ProbesContext {
  /** The request; `raw` is the fetch `Request`. */
  readonly req: { readonly raw: Request };
}

/**
 * What `probes()` returns: call it with a `Request` (route handlers, Bun, Deno, workers) for the
 * probe's `Response` or `undefined`; or use it as Hono middleware (`app.use(probes(health))`).
 */
export interface FetchProbes {
  /** The probe's `Response`, or `undefined` when `request` is not a probe. */
  (request: Request): Promise<Response | undefined>;
  /** Hono middleware: answers a probe, else `next()`. */
  (c: ProbesContext, next: () => Promise<void>): Promise<Response | undefined>;
}

/**
 * The health probes for fetch-style servers (`GET`/`HEAD` on `/livez`, `/readyz`, `/health`).
 *
 * @example
 * const answerProbe = probes(health);
 * export default { fetch: async (request: Request) => (await answerProbe(request)) ?? app(request) };
 */
export function probes(health: Health, options?: ProbesOptions<Request>): FetchProbes {
  const routes = probeRoutes(health, options, 'probes()');
  const answer = async (request: Request): Promise<Response | undefined> => {
    const kind = routes.match(request.method, new URL(request.url).pathname);
    if (kind === undefined) return undefined;
    const result = await routes.answer(kind, request, request.method === 'HEAD');
    return new Response(result.body === '' ? null : result.body, {
      status: result.statusCode,
      headers: result.headers,
    });
  };
  return (async (input: Request | ProbesContext, next?: () => Promise<void>) => {
    if (input instanceof Request) return answer(input);
    const response = await answer(input.req.raw);
    if (response !== undefined) return response;
    await next?.();
    return undefined;
  }) as FetchProbes;
}

export type { ProbesOptions } from '../lifecycle/probes.ts';
