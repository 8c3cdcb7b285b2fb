import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import { startHttpServer, type TestHttpServer } from '@ballast/test-utils';
import { createAdaptorServer } from '@hono/node-server';
import express from 'express';
import express4 from 'express4';
import Fastify, { type FastifyRequest } from 'fastify';
import Fastify4 from 'fastify4';
import { Hono } from 'hono';
import { Hono as Hono4 } from 'hono4';
import Koa from 'koa';
import Koa2 from 'koa2';
import {
  idempotency as expressIdempotency,
  idempotencyErrorHandler,
} from '../../src/adapters/express.ts';
import { idempotency as fastifyIdempotency } from '../../src/adapters/fastify.ts';
import { idempotency as fetchIdempotency } from '../../src/adapters/fetch.ts';
import { idempotency as koaIdempotency } from '../../src/adapters/koa.ts';
import { idempotency as nodeIdempotency } from '../../src/adapters/node-http.ts';
import {
  type IdempotencyEvent,
  type IdempotencyEvents,
  type IdempotencyOptions,
  idempotencyKeyOf,
} from '../../src/index.ts';

/** What the test app's one handler answers. */
export interface Reply {
  status: number;
  headers?: Record<string, string>;
  body: string | Buffer;
  /** Send the body in two writes (a streamed response). */
  stream?: boolean;
}

/** The app's behaviour, the same for every framework: a function of the path (and the parsed key). */
export type Handle = (path: string, key: string | undefined) => Promise<Reply>;

/**
 * Options without scope: the apps scope by the `x-user` header when `scopeByUser` is set (a
 * stand-in for an authenticated subject), or call `scope` with that header's value.
 */
export type AppOptions = Omit<IdempotencyOptions, 'scope'> & {
  scopeByUser?: boolean;
  scope?: (user: string | undefined) => string | undefined;
  /** Subscribed with the middleware's `onEvent()`. */
  onEvent?: (event: IdempotencyEvent) => void;
};

export type AppFactory = (options: AppOptions, handle: Handle) => Promise<TestHttpServer>;

const first = (value: string | string[] | null | undefined) =>
  Array.isArray(value) ? value[0] : (value ?? undefined);

/** The scope function of an app: from the `x-user` header, as `AppOptions` says. */
function scopeOf<Req>(
  options: AppOptions,
  user: (req: Req) => string | undefined,
): ((req: Req) => string | undefined) | undefined {
  const { scope, scopeByUser } = options;
  if (scope) return (req) => scope(user(req));
  return scopeByUser ? (req) => user(req) : undefined;
}

function core({
  scopeByUser: _,
  scope: __,
  onEvent: ___,
  ...options
}: AppOptions): IdempotencyOptions {
  return options;
}

/** Subscribes the app's `onEvent` to the middleware, and returns the middleware. */
function watched<M extends IdempotencyEvents>(options: AppOptions, middleware: M): M {
  if (options.onEvent) middleware.onEvent(options.onEvent);
  return middleware;
}

async function nodeReply(res: import('node:http').ServerResponse, reply: Reply): Promise<void> {
  res.statusCode = reply.status;
  for (const [k, v] of Object.entries(reply.headers ?? {})) res.setHeader(k, v);
  if (reply.stream) {
    res.write(reply.body.slice(0, 1));
    res.end(reply.body.slice(1));
  } else res.end(reply.body);
}

function expressApp(framework: typeof express): AppFactory {
  return async (options, handle) => {
    const app = framework();
    app.use(framework.json());
    app.use(framework.raw({ type: 'application/octet-stream' }));
    app.use(
      watched(
        options,
        expressIdempotency({
          ...core(options),
          scope: scopeOf(options, (req) => req.get('x-user')),
        }),
      ),
    );
    app.use(async (req, res, next) => {
      try {
        await nodeReply(res, await handle(req.path, idempotencyKeyOf(req)));
      } catch (error) {
        next(error); // Express 4 does not see an async handler's rejection by itself
      }
    });
    app.use(idempotencyErrorHandler());
    return startHttpServer(app as never);
  };
}

function fastifyApp(framework: typeof Fastify): AppFactory {
  return async (options, handle) => {
    const app = framework();
    app.addContentTypeParser(
      'application/octet-stream',
      { parseAs: 'buffer' },
      (_req, body, done) => done(null, body),
    );
    const settings = {
      ...core(options),
      scope: scopeOf(options, (req: FastifyRequest) => first(req.headers['x-user'])),
    };
    // Both forms: configured first (with onEvent), or registered with its options.
    if (options.onEvent) await app.register(watched(options, fastifyIdempotency(settings)));
    else await app.register(fastifyIdempotency, settings);
    app.all('/*', async (req, reply) => {
      const r = await handle(req.url.split('?')[0]!, idempotencyKeyOf(req));
      reply.code(r.status).headers(r.headers ?? {});
      // Return the payload (not `reply.send()`): Fastify 4 sends twice when an async handler calls
      // reply.send() while an async onSend hook runs and the client goes away meanwhile.
      return r.stream ? Readable.from([r.body.slice(0, 1), r.body.slice(1)]) : r.body;
    });
    await app.ready();
    return startHttpServer(app.server);
  };
}

function koaApp(framework: typeof Koa): AppFactory {
  return async (options, handle) => {
    const app = new framework();
    app.silent = true;
    app.use(
      watched(
        options,
        koaIdempotency({
          ...core(options),
          scope: scopeOf(options, (ctx) => ctx.get('x-user') || undefined),
        }),
      ),
    );
    app.use(async (ctx) => {
      const r = await handle(ctx.path, idempotencyKeyOf(ctx));
      ctx.status = r.status;
      ctx.set(r.headers ?? {});
      ctx.body = r.stream ? Readable.from([r.body.slice(0, 1), r.body.slice(1)]) : r.body;
    });
    return startHttpServer(app.callback());
  };
}

function honoApp(framework: typeof Hono): AppFactory {
  return async (options, handle) => {
    const app = new framework();
    app.onError((_error, c) => c.text('boom', 500));
    app.use(
      '*',
      watched(
        options,
        fetchIdempotency({
          ...core(options),
          scope: scopeOf(options, (req: Request) => req.headers.get('x-user') ?? undefined),
        }),
      ) as never,
    );
    app.all('*', async (c) => {
      const r = await handle(c.req.path, idempotencyKeyOf(c.req.raw));
      const body = r.stream
        ? new ReadableStream({
            start(controller) {
              controller.enqueue(Buffer.from(r.body.slice(0, 1)));
              controller.enqueue(Buffer.from(r.body.slice(1)));
              controller.close();
            },
          })
        : typeof r.body === 'string'
          ? r.body
          : new Uint8Array(r.body);
      return new Response(body, { status: r.status, headers: r.headers });
    });
    return startHttpServer(createAdaptorServer({ fetch: app.fetch }) as never);
  };
}

/**
 * One app per adapter and supported framework major: the current majors, and the lowest version
 * of each peer range (Express 4.18.0, Fastify 4.0.0, Koa 2.0.0, Hono 4.0.0).
 */
export const apps: Record<string, AppFactory> = {
  'express 5': expressApp(express),
  'express 4.18': expressApp(express4),
  'fastify 5': fastifyApp(Fastify),
  'fastify 4.0': fastifyApp(Fastify4 as unknown as typeof Fastify),
  'koa 3': koaApp(Koa),
  'koa 2.0': koaApp(Koa2),
  'node-http': async (options, handle) => {
    const scope = scopeOf(options, (req: IncomingMessage) => first(req.headers['x-user']));
    return startHttpServer(
      watched(
        options,
        nodeIdempotency(
          async (req, res) =>
            nodeReply(
              res,
              await handle(new URL(req.url!, 'http://x').pathname, idempotencyKeyOf(req)),
            ),
          { ...core(options), scope },
        ),
      ),
    );
  },
  'fetch (hono 4.x)': honoApp(Hono),
  'fetch (hono 4.0)': honoApp(Hono4 as unknown as typeof Hono),
};
