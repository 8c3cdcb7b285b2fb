import { InvalidOptionsError } from '../errors.ts';
import { HttpCore, type IdempotencyOptions } from '../http.ts';
import type { IdempotencyEvents } from '../options.ts';
import type { StoredResponse } from '../response.ts';
import { readCapped, readRequestCapped } from '../web-response.ts';

/** A fetch-style handler: Hono's `app.fetch`, a Next.js/Remix route handler, Bun/Deno servers. */
export type FetchHandler<Rest extends unknown[] = []> = (
  request: Request,
  ...rest: Rest
) => Response | Promise<Response>;

/** What a Hono middleware sees (structural, so this module does not import hono). */
export interface HonoLikeContext {
  req: { raw: Request };
  res: Response;
  /** Set by Hono when a later handler threw (Hono turns it into a 500 before we see it). */
  error?: unknown;
}

/** A Hono middleware (`app.use('/payments/*', idempotency({ store }))`). */
export type HonoMiddleware = (c: HonoLikeContext, next: () => Promise<void>) => Promise<Response>;

function toResponse({ status, headers, body }: StoredResponse): Response {
  const init = { status, headers: headers as [string, string][] };
  return new Response(status === 204 || status === 304 ? null : Buffer.from(body), init);
}

function fetchCore(options: IdempotencyOptions<Request>, factory: string) {
  const core = new HttpCore<Request>(options, factory);
  const handle = async (
    request: Request,
    run: () => Promise<Response>,
    thrown?: () => boolean,
  ): Promise<Response> => {
    const covered = core.covers(request.method) && request.body !== null;
    const body = covered ? await readRequestCapped(request, core.maxRequestBodyBytes) : undefined;
    if (covered && body === undefined) return toResponse(core.tooLarge());
    const begin = await core.begin(request, {
      method: request.method,
      path: new URL(request.url).pathname,
      key: request.headers.get(core.header) ?? undefined,
      body,
      signal: request.signal,
    });
    if (begin.kind === 'pass') return run();
    if (begin.kind === 'respond') return toResponse(begin.response);
    const { attempt } = begin;
    let response: Response;
    try {
      response = await run();
    } catch (error) {
      await attempt.release('thrown');
      throw error;
    }
    if (thrown?.()) {
      await attempt.release('thrown');
      return response;
    }
    // The client went away while the handler ran: the handler has ended, so release, not store.
    if (request.signal.aborted) attempt.abandon('connection-lost');
    const { bytes, rest } = await readCapped(response, core.maxBodyBytes);
    if (bytes)
      await attempt.finish({ status: response.status, headers: response.headers, body: bytes });
    else await attempt.release('too-large');
    return rest;
  };
  return { core, handle };
}

/**
 * `Idempotency-Key` semantics for web-standard `Request`/`Response` code, in two forms:
 *
 * - `idempotency(options)`: a Hono middleware (`app.use('/payments/*', idempotency({ store }))`);
 * - `idempotency(handler, options)`: wraps a fetch handler (a Next.js/Remix route handler, Bun or
 *   Deno servers). The body is read from a clone, so the handler still reads it. A handler that
 *   throws releases the key and rethrows.
 */
export function idempotency(
  options: IdempotencyOptions<Request>,
): HonoMiddleware & IdempotencyEvents;
export function idempotency<Rest extends unknown[]>(
  handler: FetchHandler<Rest>,
  options: IdempotencyOptions<Request>,
): FetchHandler<Rest> & IdempotencyEvents;
export function idempotency<Rest extends unknown[]>(
  first: FetchHandler<Rest> | IdempotencyOptions<Request>,
  options?: IdempotencyOptions<Request>,
): (FetchHandler<Rest> | HonoMiddleware) & IdempotencyEvents {
  if (typeof first === 'function') {
    const { core, handle } = fetchCore(
      options as IdempotencyOptions<Request>,
      'fetch idempotency()',
    );
    const wrapped: FetchHandler<Rest> = (request, ...rest) =>
      handle(request, async () => first(request, ...rest));
    return core.engine.withEvents(wrapped);
  }
  if (options !== undefined) {
    throw new InvalidOptionsError({
      option: 'handler',
      received: first,
      message:
        'fetch idempotency(): pass either the options alone (a Hono middleware) or the handler to wrap and then the options; the first argument is not a function.',
    });
  }
  const { core, handle } = fetchCore(first, 'fetch idempotency()');
  const middleware: HonoMiddleware = async (c, next) => {
    const response = await handle(
      c.req.raw,
      async () => {
        await next();
        return c.res;
      },
      () => c.error !== undefined,
    );
    c.res = response;
    return response;
  };
  return core.engine.withEvents(middleware);
}

export type { IdempotencyEvent } from '../events.ts';
export type { IdempotencyOptions, ScopeValue } from '../http.ts';
export { idempotencyKeyOf } from '../key.ts';
export type { IdempotencyEvents } from '../options.ts';
