import { createHttpIdempotency, type IdempotencyOptions } from '../http.ts';
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

function toResponse({ status, headers, body }: StoredResponse): Response {
  const init = { status, headers: headers as [string, string][] };
  return new Response(status === 204 || status === 304 ? null : Buffer.from(body), init);
}

function fetchCore(options: IdempotencyOptions<Request>, owner: string) {
  const core = createHttpIdempotency(options, owner);
  return async (
    request: Request,
    run: () => Promise<Response>,
    thrown?: () => boolean,
  ): Promise<Response> => {
    const covered = core.options.methods.includes(request.method) && request.body !== null;
    const body = covered
      ? await readRequestCapped(request, core.options.maxRequestBodyBytes)
      : undefined;
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
    const { bytes, rest } = await readCapped(response, core.options.maxBodyBytes);
    if (bytes)
      await attempt.finish({ status: response.status, headers: response.headers, body: bytes });
    else await attempt.release('too-large');
    return rest;
  };
}

/**
 * Wraps a fetch handler (`Request` → `Response`) with `Idempotency-Key` semantics; the body is
 * read from a clone, so the handler still reads it. A handler that throws releases the key and
 * rethrows. Use {@link honoIdempotency} as a Hono middleware.
 */
export function withIdempotency<Rest extends unknown[]>(
  handler: FetchHandler<Rest>,
  options: IdempotencyOptions<Request>,
): FetchHandler<Rest> {
  const handle = fetchCore(options, 'fetch withIdempotency()');
  return (request, ...rest) => handle(request, async () => handler(request, ...rest));
}

/** Hono middleware: `app.use('/payments/*', honoIdempotency({ store }))`. */
export function honoIdempotency(options: IdempotencyOptions<Request>) {
  const handle = fetchCore(options, 'honoIdempotency()');
  return async (c: HonoLikeContext, next: () => Promise<void>): Promise<Response> => {
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
}

export type { IdempotencyOptions } from '../http.ts';
