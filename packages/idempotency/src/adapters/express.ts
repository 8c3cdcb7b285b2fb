import type { ErrorRequestHandler, NextFunction, Request, RequestHandler, Response } from 'express';
import { HttpCore, type IdempotencyOptions } from '../http.ts';
import {
  captureResponse,
  failResponse,
  nodeView,
  readBody,
  writeResponse,
} from '../node-response.ts';
import type { IdempotencyEvents } from '../options.ts';

/**
 * True when no body parser read the body: it is still unread, and `req.body` is empty (Express 5
 * leaves it undefined; Express 4's parsers put `{}` there when the content type is not theirs).
 */
function unparsed(req: Request): boolean {
  if (!req.readable) return false;
  const body: unknown = req.body;
  return (
    body === undefined ||
    (typeof body === 'object' &&
      body !== null &&
      Object.getPrototypeOf(body) === Object.prototype &&
      Object.keys(body).length === 0)
  );
}

/**
 * Express middleware (Express 4 and 5) giving covered routes `Idempotency-Key` semantics. Mount it
 * after your authentication (`scope` reads what it set) and body parser (`express.json()`,
 * `express.raw()`), so the body is part of the fingerprint; without a parser it reads the raw
 * body itself and leaves it in `req.body` as a Buffer.
 *
 * Express turns a thrown error into a 500 without telling middleware; mount
 * {@link idempotencyErrorHandler} after your routes so a thrown error releases the key instead of
 * storing that 500. A `scope` or `fingerprint` that throws is passed to `next(error)`.
 */
export function idempotency(
  options: IdempotencyOptions<Request>,
): RequestHandler & IdempotencyEvents {
  const core = new HttpCore<Request>(options, 'express idempotency()');
  const handle = async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    if (unparsed(req) && core.covers(req.method)) {
      const body = await readBody(req, core.maxRequestBodyBytes);
      if (body === undefined) return writeResponse(res, core.tooLarge());
      req.body = body;
    }
    const begin = await core.begin(req, nodeView(core, req, res, req.body));
    if (begin.kind === 'pass') return next();
    if (begin.kind === 'respond') return writeResponse(res, begin.response);
    captureResponse(res, begin.attempt);
    next();
  };
  // Express 4 ignores the promise an async middleware returns: a rejection must reach next().
  const middleware: RequestHandler = (req, res, next) => {
    handle(req, res, next).catch(next);
  };
  return core.engine.withEvents(middleware);
}

/** Error middleware (mount after your routes): a thrown error releases the key, then passes on. */
export function idempotencyErrorHandler(): ErrorRequestHandler {
  return (error, _req, res, next) => {
    failResponse(res);
    next(error);
  };
}

export type { IdempotencyEvent } from '../events.ts';
export type { IdempotencyOptions, ScopeValue } from '../http.ts';
export { idempotencyKeyOf } from '../key.ts';
export type { IdempotencyEvents } from '../options.ts';
