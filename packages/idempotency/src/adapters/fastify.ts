import type { FastifyInstance, FastifyPluginCallback, FastifyReply, FastifyRequest } from 'fastify';
import { type Attempt, HttpCore, type IdempotencyOptions } from '../http.ts';
import { closeSignal, headerValue } from '../node-response.ts';
import type { IdempotencyEvents } from '../options.ts';

const isStream = (body: unknown) =>
  typeof body === 'object' &&
  body !== null &&
  typeof (body as { pipe?: unknown }).pipe === 'function';

interface Running {
  attempt: Attempt;
  thrown: boolean;
}

/** The plugin `idempotency(options)` returns: register it, and subscribe to its events. */
export type IdempotencyPlugin = FastifyPluginCallback & IdempotencyEvents;

type PluginArgs = Parameters<FastifyPluginCallback<IdempotencyOptions<FastifyRequest>>>;

/** The `idempotency` export: a Fastify plugin, or a function that configures one. */
export interface FastifyIdempotency {
  /**
   * Configures the plugin now (bad options throw `InvalidOptionsError` here) and returns it, with
   * `onEvent`: `const idem = idempotency({ store }); idem.onEvent(log); await app.register(idem)`.
   */
  (options: IdempotencyOptions<FastifyRequest>): IdempotencyPlugin;
  /** As a plugin: `await app.register(idempotency, { store })` (bad options reject `register()`). */
  (...args: PluginArgs): void;
}

/** The hooks of one configured plugin, added to the instance it is registered on. */
function install(fastify: FastifyInstance, core: HttpCore<FastifyRequest>): void {
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
}

// Like fastify-plugin: the hooks apply to the instance the plugin is registered on, not to a child.
const SKIP_OVERRIDE = Symbol.for('skip-override');
const FACTORY = 'fastify idempotency()';

/**
 * Fastify plugin (Fastify 4 and 5) giving covered routes `Idempotency-Key` semantics; it applies
 * to the whole instance it is registered on. Two forms:
 *
 * - `await app.register(idempotency({ store }))`: configured first, so bad options throw at once
 *   and the plugin has `onEvent(listener)`;
 * - `await app.register(idempotency, { store })`: bad options reject `register()` (and `ready()`).
 *
 * The parsed body is fingerprinted; the serialized payload is stored in `onSend`; a thrown error
 * releases the key.
 */
export const idempotency: FastifyIdempotency = function idempotency(
  first: FastifyInstance | IdempotencyOptions<FastifyRequest>,
  options?: IdempotencyOptions<FastifyRequest>,
  done?: (error?: Error) => void,
): IdempotencyPlugin | undefined {
  if (typeof done === 'function') {
    // Registered as a plugin with its options: configure it now, report bad ones to register().
    let core: HttpCore<FastifyRequest>;
    try {
      core = new HttpCore<FastifyRequest>(options as IdempotencyOptions<FastifyRequest>, FACTORY);
    } catch (error) {
      done(error as Error);
      return undefined;
    }
    install(first as FastifyInstance, core);
    done();
    return undefined;
  }
  const core = new HttpCore<FastifyRequest>(first as IdempotencyOptions<FastifyRequest>, FACTORY);
  const plugin: FastifyPluginCallback = (fastify, _options, next) => {
    install(fastify, core);
    next();
  };
  Object.assign(plugin, { [SKIP_OVERRIDE]: true });
  return core.engine.withEvents(plugin);
} as FastifyIdempotency;

Object.assign(idempotency, { [SKIP_OVERRIDE]: true });

export type { IdempotencyEvent } from '../events.ts';
export type { IdempotencyOptions, ScopeValue } from '../http.ts';
export { idempotencyKeyOf } from '../key.ts';
export type { IdempotencyEvents } from '../options.ts';
