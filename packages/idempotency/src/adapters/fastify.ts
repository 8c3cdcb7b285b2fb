import type { FastifyPluginCallback, FastifyReply, FastifyRequest } from 'fastify';
import { type Attempt, HttpCore, type IdempotencyOptions } from '../http.ts';
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
 * Fastify plugin (Fastify 4 and 5) giving covered routes `Idempotency-Key` semantics
 * (`await app.register(idempotency, options)`; it applies to the whole instance it is registered
 * on). The parsed body is fingerprinted; the serialized payload is stored in `onSend`; a thrown
 * error releases the key. Bad options reject `register()` (and `ready()`).
 */
export const idempotency: FastifyPluginCallback<IdempotencyOptions<FastifyRequest>> = (
  fastify,
  options,
  done,
) => {
  let core: HttpCore<FastifyRequest>;
  try {
    core = new HttpCore<FastifyRequest>(options, 'fastify idempotency');
  } catch (error) {
    done(error as Error);
    return;
  }
  const running = new WeakMap<FastifyRequest, Running>();
  fastify.addHook('preHandler', async (request: FastifyRequest, reply: FastifyReply) => {
    const begin = await core.begin(request, {
      method: request.method,
      path: request.url.split('?', 1)[0]!,
      key: headerValue(request.headers[core.header]),
      body: request.body,
      signal: closeSignal(core.waits, reply.raw),
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

export type { IdempotencyOptions, ScopeValue } from '../http.ts';
export { idempotencyKeyOf } from '../key.ts';
