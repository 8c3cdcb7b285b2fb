import type { IncomingMessage, ServerResponse } from 'node:http';
import { InvalidOptionsError } from '../errors.ts';
import { HttpCore, type IdempotencyOptions } from '../http.ts';
import {
  captureResponse,
  failResponse,
  nodeView,
  readBody,
  settleResponse,
  writeResponse,
} from '../node-response.ts';
import type { IdempotencyEvents } from '../options.ts';

/** A `node:http` handler that also receives the request body the wrapper read. */
export type BodyHandler = (req: IncomingMessage, res: ServerResponse, body: Buffer) => unknown;

/**
 * Wraps a `node:http` request handler with `Idempotency-Key` semantics. The wrapper reads the
 * body (it is part of the fingerprint; at most `maxRequestBodyBytes`, else 413) and hands it to
 * `handler` as its third argument. A handler that throws (or rejects) releases the key and, if
 * it sent nothing, answers 500; so does a `scope` or `fingerprint` that throws.
 */
export function idempotency(
  handler: BodyHandler,
  options: IdempotencyOptions<IncomingMessage>,
): ((req: IncomingMessage, res: ServerResponse) => void) & IdempotencyEvents {
  if (typeof handler !== 'function') {
    throw new InvalidOptionsError({
      option: 'handler',
      received: handler,
      message: `node-http idempotency(): its first argument must be the request handler to wrap, (req, res, body) => …; the options come second.`,
    });
  }
  const core = new HttpCore<IncomingMessage>(options, 'node-http idempotency()');
  const wrapped = (req: IncomingMessage, res: ServerResponse): void => {
    void (async () => {
      const body = await readBody(req, core.maxRequestBodyBytes);
      if (body === undefined) return writeResponse(res, core.tooLarge());
      const begin = await core.begin(req, nodeView(core, req, res, body));
      if (begin.kind === 'respond') return writeResponse(res, begin.response);
      if (begin.kind === 'execute') captureResponse(res, begin.attempt);
      try {
        await handler(req, res, body);
        settleResponse(res);
      } catch (error) {
        failResponse(res);
        throw error;
      }
    })().catch(() => {
      if (!res.headersSent) res.writeHead(500).end();
      else res.destroy();
    });
  };
  return core.engine.withEvents(wrapped);
}

export type { IdempotencyEvent } from '../events.ts';
export type { IdempotencyOptions, ScopeValue } from '../http.ts';
export { idempotencyKeyOf } from '../key.ts';
export type { IdempotencyEvents } from '../options.ts';
