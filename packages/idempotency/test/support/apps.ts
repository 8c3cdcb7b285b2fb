import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import { startHttpServer, type TestHttpServer } from '@ballast/test-utils';
import { createAdaptorServer } from '@hono/node-server';
import express from 'express';
import Fastify from 'fastify';
import { Hono } from 'hono';
import Koa from 'koa';
import {
  idempotency as expressIdempotency,
  idempotencyErrorHandler,
} from '../../src/adapters/express.ts';
import { idempotency as fastifyIdempotency } from '../../src/adapters/fastify.ts';
import { honoIdempotency } from '../../src/adapters/fetch.ts';
import { idempotency as koaIdempotency } from '../../src/adapters/koa.ts';
import { withIdempotency } from '../../src/adapters/node-http.ts';
import type { IdempotencyOptions } from '../../src/index.ts';

/** What the test app's one handler answers. */
export interface Reply {
  status: number;
  headers?: Record<string, string>;
  body: string | Buffer;
  /** Send the body in two writes (a streamed response). */
  stream?: boolean;
}

/** The app's behaviour, the same for every framework: a function of the path. */
export type Handle = (path: string) => Promise<Reply>;

/** Options without scope: the apps scope by the `x-user` header when `scopeByUser` is set. */
export type AppOptions = Omit<IdempotencyOptions, 'scope'> & { scopeByUser?: boolean };

export type AppFactory = (options: AppOptions, handle: Handle) => Promise<TestHttpServer>;

const user = (value: string | string[] | null | undefined) =>
  Array.isArray(value) ? value[0] : (value ?? undefined);

async function nodeReply(res: import('node:http').ServerResponse, reply: Reply): Promise<void> {
  res.statusCode = reply.status;
  for (const [k, v] of Object.entries(reply.headers ?? {})) res.setHeader(k, v);
  if (reply.stream) {
    res.write(reply.body.slice(0, 1));
    res.end(reply.body.slice(1));
  } else res.end(reply.body);
}

export const apps: Record<string, AppFactory> = {
  express: async ({ scopeByUser, ...options }, handle) => {
    const app = express();
    app.use(express.json());
    app.use(express.raw({ type: 'application/octet-stream' }));
    app.use(
      expressIdempotency({
        ...options,
        scope: scopeByUser ? (req) => req.get('x-user') : undefined,
      }),
    );
    app.use(async (req, res) => nodeReply(res, await handle(req.path)));
    app.use(idempotencyErrorHandler());
    return startHttpServer(app as never);
  },
  fastify: async ({ scopeByUser, ...options }, handle) => {
    const app = Fastify();
    app.addContentTypeParser(
      'application/octet-stream',
      { parseAs: 'buffer' },
      (_req, body, done) => done(null, body),
    );
    await app.register(fastifyIdempotency, {
      ...options,
      scope: scopeByUser ? (req) => user(req.headers['x-user']) : undefined,
    });
    app.all('/*', async (req, reply) => {
      const r = await handle(req.url.split('?')[0]!);
      reply.code(r.status).headers(r.headers ?? {});
      return reply.send(r.stream ? Readable.from([r.body.slice(0, 1), r.body.slice(1)]) : r.body);
    });
    await app.ready();
    return startHttpServer(app.server);
  },
  koa: async ({ scopeByUser, ...options }, handle) => {
    const app = new Koa();
    app.silent = true;
    app.use(
      koaIdempotency({
        ...options,
        scope: scopeByUser ? (ctx) => ctx.get('x-user') || undefined : undefined,
      }),
    );
    app.use(async (ctx) => {
      const r = await handle(ctx.path);
      ctx.status = r.status;
      ctx.set(r.headers ?? {});
      ctx.body = r.stream ? Readable.from([r.body.slice(0, 1), r.body.slice(1)]) : r.body;
    });
    return startHttpServer(app.callback());
  },
  'node-http': async ({ scopeByUser, ...options }, handle) => {
    const scope = scopeByUser ? (req: IncomingMessage) => user(req.headers['x-user']) : undefined;
    return startHttpServer(
      withIdempotency(
        async (req, res) => nodeReply(res, await handle(new URL(req.url!, 'http://x').pathname)),
        { ...options, scope },
      ),
    );
  },
  'fetch (hono)': async ({ scopeByUser, ...options }, handle) => {
    const app = new Hono();
    app.onError((_error, c) => c.text('boom', 500));
    app.use(
      '*',
      honoIdempotency({
        ...options,
        scope: scopeByUser ? (req) => req.headers.get('x-user') ?? undefined : undefined,
      }),
    );
    app.all('*', async (c) => {
      const r = await handle(c.req.path);
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
  },
};
