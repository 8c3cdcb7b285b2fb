import type { ErrorRequestHandler, Request, RequestHandler } from 'express';
import { createHttpIdempotency, type IdempotencyOptions } from '../http.ts';
import {
  captureResponse,
  failResponse,
  nodeView,
  readBody,
  writeResponse,
} from '../node-response.ts';

/**
 * Express middleware giving covered routes `Idempotency-Key` semantics. Mount it after your body
 * parser (`express.json()`, `express.raw()`) so the body is part of the fingerprint; without a
 * parser it reads the raw body itself and leaves it in `req.body` as a Buffer.
 *
 * Express turns a thrown error into a 500 without telling middleware; mount
 * {@link idempotencyErrorHandler} after your routes so a thrown error releases the key instead of
 * storing that 500.
 */
export function idempotency(options: IdempotencyOptions<Request>): RequestHandler {
  const core = createHttpIdempotency(options, 'express idempotency()');
  const methods = new Set(core.options.methods);
  return async (req, res, next) => {
    if (req.body === undefined && methods.has(req.method) && req.readable) {
      const body = await readBody(req, core.options.maxRequestBodyBytes);
      if (body === undefined) return writeResponse(res, core.tooLarge());
      req.body = body;
    }
    const begin = await core.begin(req, nodeView(core as never, req, res, req.body));
    if (begin.kind === 'pass') return next();
    if (begin.kind === 'respond') return writeResponse(res, begin.response);
    captureResponse(res, begin.attempt);
    next();
  };
}

/** Error middleware (mount after your routes): a thrown error releases the key, then passes on. */
export function idempotencyErrorHandler(): ErrorRequestHandler {
  return (error, _req, res, next) => {
    failResponse(res);
    next(error);
  };
}

export type { IdempotencyOptions } from '../http.ts';
