import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { startHttpServer, type TestHttpServer } from '@ballast/test-utils';
import { getRequestListener } from '@hono/node-server';
import express from 'express';
import express4 from 'express4';
import Fastify from 'fastify';
import Fastify4 from 'fastify4';
import { Hono } from 'hono';
import Koa from 'koa';
import Koa2 from 'koa2';
import * as ex from '../../src/adapters/express.ts';
import * as fa from '../../src/adapters/fastify.ts';
import * as fe from '../../src/adapters/fetch.ts';
import * as ko from '../../src/adapters/koa.ts';
import * as nh from '../../src/adapters/node-http.ts';
import type { Router } from '../../src/router/index.ts';

/** A gateway app in one framework, with the router's `proxy()` mounted and a local route `/local`. */
export type StartGateway = (router: Router) => Promise<TestHttpServer>;

function fastifyApp(createFastify: typeof Fastify): StartGateway {
  return async (router) => {
    const app = createFastify();
    app.get('/local', async () => ({ local: true }));
    await app.register(fa.proxy(router));
    await app.ready();
    const server = await startHttpServer(app.server);
    return {
      ...server,
      close: async () => void (await Promise.all([server.close(), app.close()])),
    };
  };
}

function expressApp(createExpress: typeof express): StartGateway {
  return (router) => {
    const app = createExpress();
    app.get('/local', (_req, res) => void res.json({ local: true }));
    app.use(ex.proxy(router));
    return startHttpServer(createServer(app));
  };
}

function koaApp(KoaClass: typeof Koa): StartGateway {
  return (router) => {
    const app = new KoaClass();
    app.use(async (ctx, next) => {
      if (ctx.path === '/local') ctx.body = { local: true };
      else await next();
    });
    app.use(ko.proxy(router));
    return startHttpServer(createServer(app.callback()));
  };
}

/** The same gateway in every framework the adapters support (lowest and newest majors). */
export const gateways: Record<string, StartGateway> = {
  'node-http': (router) => {
    const forward = nh.proxy(router);
    return startHttpServer((req, res) => {
      if (req.url === '/local') return void res.end('{"local":true}');
      forward(req, res);
    });
  },
  express: expressApp(express),
  'express 4': expressApp(express4),
  fastify: fastifyApp(Fastify),
  'fastify 4': fastifyApp(Fastify4 as unknown as typeof Fastify),
  koa: koaApp(Koa),
  'koa 2': koaApp(Koa2),
  'fetch (hono)': (router) => {
    const app = new Hono();
    app.get('/local', (c) => c.json({ local: true }));
    app.use(fe.proxy(router));
    return startHttpServer(getRequestListener(app.fetch));
  },
};

/** What the upstream saw of one request. */
export interface Seen {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingMessage['headers'];
  readonly rawHeaders: string[];
  /** Set when the request's connection closed before the response ended. */
  aborted: boolean;
  bodyBytes: number;
}

/** A local upstream whose paths each play one behaviour; `seen` lists every request it got. */
export interface Upstream extends TestHttpServer {
  readonly seen: Seen[];
  /** Resolves when a request to `path` has been aborted by the proxy. */
  abortedOn(path: string): Promise<void>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Paths: `/echo…` answers what it got as JSON; `/bytes/<n>` streams n bytes (64 KiB chunks);
 * `/upload` reads the body and answers its size; `/die` promises 100000 bytes, sends 1000 and
 * destroys the socket; `/hang` never answers; `/slow/<ms>`; `/status/<code>`; `/hop` answers with
 * hop-by-hop headers; `/chunked/<n>` streams n bytes without a Content-Length.
 */
export async function startUpstream(name = 'up'): Promise<Upstream> {
  const seen: Seen[] = [];
  const waiters: { path: string; resolve: () => void }[] = [];
  const handler = async (req: IncomingMessage, res: ServerResponse) => {
    const entry: Seen = {
      method: req.method ?? '',
      url: req.url ?? '',
      headers: req.headers,
      rawHeaders: req.rawHeaders,
      aborted: false,
      bodyBytes: 0,
    };
    seen.push(entry);
    res.on('close', () => {
      if (res.writableFinished) return;
      entry.aborted = true;
      for (const w of waiters.filter((w) => entry.url.startsWith(w.path))) w.resolve();
    });
    const path = (req.url ?? '/').split('?')[0]!;
    const [, head, arg] = path.split('/');
    res.setHeader('x-upstream', name);
    switch (head) {
      case 'bytes':
      case 'chunked': {
        let left = Number(arg);
        if (head === 'bytes') res.setHeader('content-length', left);
        const chunk = Buffer.alloc(64 * 1024, 97);
        const write = () => {
          while (left > 0) {
            const part = left >= chunk.length ? chunk : chunk.subarray(0, left);
            left -= part.length;
            if (!res.write(part)) return void res.once('drain', write);
          }
          res.end();
        };
        write();
        return;
      }
      case 'upload': {
        // ?pause=<ms>: stop reading for that long after 10 MB (a slow upstream: backpressure)
        const pause = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('pause') ?? 0);
        let paused = pause === 0;
        for await (const chunk of req) {
          entry.bodyBytes += (chunk as Buffer).length;
          if (!paused && entry.bodyBytes > 10 * 1024 * 1024) {
            paused = true;
            await sleep(pause);
          }
        }
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ received: entry.bodyBytes }));
        return;
      }
      case 'die': {
        res.writeHead(200, { 'content-length': 100_000 });
        res.write(Buffer.alloc(1000, 98));
        setTimeout(() => res.socket?.destroy(), 20);
        return;
      }
      case 'hang':
        return;
      case 'slow':
        await sleep(Number(arg));
        res.end('slow');
        return;
      case 'status':
        res.statusCode = Number(arg);
        res.end(`status ${arg}`);
        return;
      case 'hop':
        res.writeHead(200, {
          connection: 'x-private, keep-alive',
          'x-private': 'secret',
          'keep-alive': 'timeout=5',
          'proxy-authenticate': 'Basic',
          'x-public': 'yes',
        });
        res.end('hop');
        return;
      default: {
        for await (const chunk of req) entry.bodyBytes += (chunk as Buffer).length;
        res.setHeader('content-type', 'application/json');
        res.end(
          JSON.stringify({
            method: req.method,
            url: req.url,
            headers: req.headers,
            bodyBytes: entry.bodyBytes,
          }),
        );
      }
    }
  };
  const server = await startHttpServer(
    createServer((req, res) => void handler(req, res).catch(() => res.destroy())),
  );
  return {
    ...server,
    seen,
    abortedOn: (path) =>
      new Promise<void>((resolve) => {
        if (seen.some((s) => s.aborted && s.url.startsWith(path))) return resolve();
        waiters.push({ path, resolve });
      }),
  };
}
