import type { FastifyPluginCallback, FastifyReply, FastifyRequest } from 'fastify';
import { type Attempt, createHttpIdempotency, type IdempotencyOptions } from '../http.ts';
import { closeSignal, headerValue } from '../node-response.ts';

const isStream = (body: unknown) =>
  typeof body === 'object' &&
  body !== null &&
  typeof (body as { pipe?: unknown }).pipe === 'function';

interface Running {
  attempt: Attempt;
  thrown: boolean;
}

/**
 * Fastify plugin giving covered routes `Idempotency-Key` semantics (`app.register(idempotency,
 * options)`; it applies to the whole instance it is registered on). The parsed body is
 * fingerprinted; the serialized payload is stored in `onSend`; a thrown error releases the key.
 */
export const idempotency: FastifyPluginCallback<IdempotencyOptions<FastifyRequest>> = (
  fastify,
  options,
  done,
) => {
  const core = createHttpIdempotency(options, 'fastify idempotency');
  const running = new WeakMap<FastifyRequest, Running>();
  fastify.addHook('preHandler', async (request: FastifyRequest, reply: FastifyReply) => {
    const begin = await core.begin(request, {
      method: request.method,
      path: request.url.split('?', 1)[0]!,
      key: headerValue(request.headers[core.header]),
      body: request.body,
      signal: closeSignal(core as never, reply.raw),
    });
    if (begin.kind === 'pass') return;
    if (begin.kind === 'respond') {
      reply.code(begin.response.status).headers(Object.fromEntries(begin.response.headers));
      return reply.send(Buffer.from(begin.response.body));
    }
    const run: Running = { attempt: begin.attempt, thrown: false };
    running.set(request, run);
    reply.raw.once('close', () => {
      // Not stored; the key stays locked until the handler's reply reaches onSend (finish/release).
      if (running.has(request)) run.attempt.abandon('connection-lost');
    });
  });
  fastify.addHook('onError', async (request: FastifyRequest) => {
    const run = running.get(request);
    if (run) run.thrown = true;
  });
  fastify.addHook(
    'onSend',
    async (request: FastifyRequest, reply: FastifyReply, payload: unknown) => {
      const run = running.get(request);
      if (!run || !running.delete(request)) return payload;
      if (run.thrown) await run.attempt.release('thrown');
      else if (isStream(payload)) await run.attempt.release('streamed');
      else {
        await run.attempt.finish({
          status: reply.statusCode,
          headers: Object.entries(reply.getHeaders()) as [string, string][],
          body: payload as string | Buffer | null,
        });
      }
      return payload;
    },
  );
  done();
};

// Like fastify-plugin: the hooks apply to the instance the plugin is registered on, not to a child.
Object.assign(idempotency, { [Symbol.for('skip-override')]: true });

export type { IdempotencyOptions } from '../http.ts';
