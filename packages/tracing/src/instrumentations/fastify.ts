import dc from 'node:diagnostics_channel';
import { ROUTE, type TracedResponse, type Uninstall } from '../runtime.ts';

interface HandlerStore {
  reply?: { raw?: TracedResponse };
  route?: { url?: unknown };
}

/**
 * The Fastify route (`/users/:id`) on the request's server span, from Fastify's own
 * `tracing:fastify.request.handler` channel (Fastify ≥ 5.2): no Fastify hooks or extra spans.
 */
export function instrumentFastify(): Uninstall {
  const onStart = (message: unknown) => {
    const { reply, route } = message as HandlerStore;
    if (reply?.raw !== undefined && typeof route?.url === 'string') reply.raw[ROUTE] = route.url;
  };
  dc.subscribe('tracing:fastify.request.handler:start', onStart);
  return () => dc.unsubscribe('tracing:fastify.request.handler:start', onStart);
}
