import { createServer, type IncomingMessage } from 'node:http';
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
import type { Health } from '../../src/lifecycle/index.ts';

/**
 * The same app in every framework: the probes (details shown when `x-admin: 1`), and `/work`
 * answering `ok`.
 */
export type StartProbeApp = (health: Health) => Promise<TestHttpServer>;

const admin = (headers: IncomingMessage['headers'] | Headers): boolean =>
  (headers instanceof Headers ? headers.get('x-admin') : headers['x-admin']) === '1';

function expressApp(createExpress: typeof express): StartProbeApp {
  return async (health) => {
    const app = createExpress();
    app.use(ex.probes(health, { showDetails: (req) => admin(req.headers) }));
    app.get('/work', (_req, res) => res.send('ok'));
    return startHttpServer(createServer(app));
  };
}

function fastifyApp(createFastify: typeof Fastify): StartProbeApp {
  return async (health) => {
    const app = createFastify();
    await app.register(fa.probes(health, { showDetails: (req) => admin(req.headers) }));
    app.get('/work', async () => 'ok');
    await app.ready();
    const server = await startHttpServer(app.server);
    return {
      ...server,
      close: async () => void (await Promise.all([server.close(), app.close()])),
    };
  };
}

function koaApp(KoaClass: typeof Koa): StartProbeApp {
  return async (health) => {
    const app = new KoaClass();
    app.use(ko.probes(health, { showDetails: (ctx) => admin(ctx.headers) }));
    app.use(async (ctx, next) => {
      if (ctx.path !== '/work') return next();
      ctx.body = 'ok';
    });
    return startHttpServer(createServer(app.callback()));
  };
}

/** Every adapter, on the newest and the lowest version of each framework's peer range. */
export const probeApps: Record<string, StartProbeApp> = {
  express: expressApp(express),
  'express 4.18': expressApp(express4),
  fastify: fastifyApp(Fastify),
  'fastify 4.0': fastifyApp(Fastify4 as unknown as typeof Fastify),
  koa: koaApp(Koa),
  'koa 2.0': koaApp(Koa2),
  async 'node-http'(health) {
    const answerProbe = nh.probes(health, { showDetails: (req) => admin(req.headers) });
    return startHttpServer(async (req, res) => {
      if (await answerProbe(req, res)) return;
      if (req.url === '/work') return void res.end('ok');
      res.writeHead(404).end();
    });
  },
  async 'fetch (Hono)'(health) {
    const app = new Hono();
    app.use(fe.probes(health, { showDetails: (req) => admin(req.headers) }));
    app.get('/work', (c) => c.text('ok'));
    return startHttpServer(getRequestListener(app.fetch));
  },
  async 'fetch (Request)'(health) {
    const answerProbe = fe.probes(health, { showDetails: (req) => admin(req.headers) });
    return startHttpServer(
      getRequestListener(
        async (request: Request) => (await answerProbe(request)) ?? new Response('ok'),
      ),
    );
  },
};
