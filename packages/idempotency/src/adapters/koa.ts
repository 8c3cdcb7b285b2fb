import type { Context, Middleware } from 'koa';
import { HttpCore, type IdempotencyOptions } from '../http.ts';
import { closeSignal, readBody } from '../node-response.ts';
import type { IdempotencyEvents } from '../options.ts';
import type { StoredResponse } from '../response.ts';

const isStream = (body: unknown) =>
  typeof body === 'object' &&
  body !== null &&
  typeof (body as { pipe?: unknown }).pipe === 'function';

function respond(ctx: Context, response: StoredResponse): void {
  ctx.status = response.status;
  // The body first: Koa 2.0 sets content-type when a body is assigned, even over one already set.
  ctx.body = Buffer.from(response.body);
  for (const [name, value] of response.headers) ctx.set(name, value);
}

/**
 * Koa middleware (Koa 2 and 3) giving covered requests `Idempotency-Key` semantics. Mount it after a body parser
 * (its `ctx.request.body` is fingerprinted); without one it reads the raw body itself and leaves
 * it in `ctx.request.body` as a Buffer. A thrown error releases the key and propagates; a stream
 * body is sent but not stored.
 */
export function idempotency(options: IdempotencyOptions<Context>): Middleware & IdempotencyEvents {
  const core = new HttpCore<Context>(options, 'koa idempotency()');
  const middleware: Middleware = async (ctx, next) => {
    const request = ctx.request as typeof ctx.request & { body?: unknown };
    if (request.body === undefined && core.covers(ctx.method) && ctx.req.readable) {
      const body = await readBody(ctx.req, core.maxRequestBodyBytes);
      if (body === undefined) {
        respond(ctx, core.tooLarge());
        return;
      }
      request.body = body;
    }
    const header = ctx.get(core.header);
    const begin = await core.begin(ctx, {
      method: ctx.method,
      path: ctx.path,
      key: header === '' && !(core.header in ctx.headers) ? undefined : header,
      body: request.body,
      signal: closeSignal(core.waits, ctx.res),
    });
    if (begin.kind === 'pass') return next();
    if (begin.kind === 'respond') {
      respond(ctx, begin.response);
      return;
    }
    const { attempt } = begin;
    ctx.res.once('close', () => {
      // Not stored; the key stays locked until next() settles below (finish/release).
      if (!ctx.res.writableFinished) attempt.abandon('connection-lost');
    });
    try {
      await next();
    } catch (error) {
      await attempt.release('thrown');
      throw error;
    }
    if (isStream(ctx.body)) return attempt.release('streamed');
    const body = ctx.body;
    // Koa serialises objects with JSON.stringify when it responds; do it now so the stored bytes
    // are exactly the bytes sent.
    const bytes =
      body === null || body === undefined
        ? undefined
        : typeof body === 'string' || body instanceof Uint8Array
          ? body
          : JSON.stringify(body);
    if (typeof bytes === 'string' && typeof body !== 'string') ctx.body = Buffer.from(bytes);
    await attempt.finish({
      status: ctx.status,
      // `ctx.response.headers` is `res._headers` in Koa 2.0, which current Node no longer has.
      headers: Object.entries(ctx.res.getHeaders()),
      body: bytes,
    });
  };
  return core.engine.withEvents(middleware);
}

export type { IdempotencyEvent } from '../events.ts';
export type { IdempotencyOptions, ScopeValue } from '../http.ts';
export { idempotencyKeyOf } from '../key.ts';
export type { IdempotencyEvents } from '../options.ts';
