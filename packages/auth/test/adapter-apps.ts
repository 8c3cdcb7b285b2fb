import { createServer } from 'node:http';
import { startHttpServer, type TestHttpServer } from '@ballast/test-utils';
import { getRequestListener } from '@hono/node-server';
import express from 'express';
import express4 from 'express4';
import Fastify from 'fastify';
import Fastify4 from 'fastify4';
import { Hono } from 'hono';
import Koa, { type Middleware } from 'koa';
import Koa2 from 'koa2';
import * as ex from '../src/adapters/express.ts';
import * as fa from '../src/adapters/fastify.ts';
import * as fe from '../src/adapters/fetch.ts';
import * as ko from '../src/adapters/koa.ts';
import * as nh from '../src/adapters/node-http.ts';
import type { VerifiedToken, Verifier } from '../src/index.ts';

/**
 * The same app in every framework:
 * `/me` requireAuth; `/all` scopes a AND b; `/any` scopes a OR z; `/claims` tenant = t1;
 * `/inline` requireAuth with scopes + claims options; `/query` accepts ?access_token=.
 * Each answers `{ sub, scopes }` from the attached `auth`.
 */
export type StartApp = (verifier: Verifier) => Promise<TestHttpServer>;

const body = (auth: VerifiedToken | undefined) => ({ sub: auth?.subject, scopes: auth?.scopes });
const inline = { scopes: ['a'], claims: { tenant: 't1' } };

function expressApp(createExpress: typeof express): StartApp {
  return async (verifier) => {
    const app = createExpress();
    const auth = ex.requireAuth(verifier);
    const send = (req: express.Request, res: express.Response) => res.json(body(ex.authOf(req)));
    app.get('/me', auth, send);
    app.get('/all', auth, ex.requireScopes(['a', 'b']), send);
    app.get('/any', auth, ex.requireScopes(['a', 'z'], { scopeMode: 'any' }), send);
    app.get('/claims', auth, ex.requireClaims({ tenant: 't1' }), send);
    app.get('/inline', ex.requireAuth(verifier, inline), send);
    app.get('/query', ex.requireAuth(verifier, { allowQueryToken: true }), send);
    return startHttpServer(createServer(app));
  };
}

function fastifyApp(createFastify: typeof Fastify): StartApp {
  return async (verifier) => {
    const app = createFastify();
    const auth = fa.requireAuth(verifier);
    const send = async (req: { auth?: VerifiedToken }) => body(req.auth);
    app.get('/me', { onRequest: auth }, send);
    app.get('/all', { onRequest: auth, preHandler: fa.requireScopes(['a', 'b']) }, send);
    app.get(
      '/any',
      { onRequest: auth, preHandler: fa.requireScopes(['a', 'z'], { scopeMode: 'any' }) },
      send,
    );
    app.get('/claims', { onRequest: auth, preHandler: fa.requireClaims({ tenant: 't1' }) }, send);
    app.get('/inline', { onRequest: fa.requireAuth(verifier, inline) }, send);
    app.get('/query', { onRequest: fa.requireAuth(verifier, { allowQueryToken: true }) }, send);
    await app.ready();
    const server = await startHttpServer(app.server);
    return {
      ...server,
      close: async () => void (await Promise.all([server.close(), app.close()])),
    };
  };
}

function koaApp(KoaClass: typeof Koa): StartApp {
  return async (verifier) => {
    const app = new KoaClass();
    const auth = ko.requireAuth(verifier);
    const routes: Record<string, Middleware[]> = {
      '/me': [auth],
      '/all': [auth, ko.requireScopes(['a', 'b'])],
      '/any': [auth, ko.requireScopes(['a', 'z'], { scopeMode: 'any' })],
      '/claims': [auth, ko.requireClaims({ tenant: 't1' })],
      '/inline': [ko.requireAuth(verifier, inline)],
      '/query': [ko.requireAuth(verifier, { allowQueryToken: true })],
    };
    app.use(async (ctx, next) => {
      const chain = routes[ctx.path];
      if (!chain) return next();
      const run = async (i: number): Promise<void> => {
        if (i < chain.length) await chain[i]!(ctx, () => run(i + 1));
        else ctx.body = body(ctx.state.auth);
      };
      await run(0);
    });
    return startHttpServer(createServer(app.callback()));
  };
}

/**
 * The same app for every adapter and supported framework major: the current majors, and the lowest
 * version of each peer range (Express 4.18.0, Fastify 4.0.0, Koa 2.0.0).
 */
export const apps: Record<string, StartApp> = {
  express: expressApp(express),
  'express 4.18': expressApp(express4),
  fastify: fastifyApp(Fastify),
  'fastify 4.0': fastifyApp(Fastify4 as unknown as typeof Fastify),
  koa: koaApp(Koa),
  'koa 2.0': koaApp(Koa2),

  async 'node-http'(verifier) {
    const auth = nh.requireAuth(verifier);
    const checks: Record<
      string,
      [ReturnType<typeof nh.requireAuth>, ((...a: never[]) => boolean)?]
    > = {
      '/me': [auth],
      '/all': [auth, nh.requireScopes(['a', 'b'])],
      '/any': [auth, nh.requireScopes(['a', 'z'], { scopeMode: 'any' })],
      '/claims': [auth, nh.requireClaims({ tenant: 't1' })],
      '/inline': [nh.requireAuth(verifier, inline)],
      '/query': [nh.requireAuth(verifier, { allowQueryToken: true })],
    };
    return startHttpServer(async (req, res) => {
      const [authenticate, check] = checks[(req.url ?? '').split('?')[0]!] ?? [];
      if (!authenticate) return void res.writeHead(404).end();
      const token = await authenticate(req, res);
      if (!token) return;
      if (check && !(check as (q: typeof req, s: typeof res) => boolean)(req, res)) return;
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body(token)));
    });
  },

  async fetch(verifier) {
    const app = new Hono<{ Variables: fe.AuthVariables }>();
    const auth = fe.requireAuth(verifier);
    const send = (c: { get(k: 'auth'): VerifiedToken; json(v: unknown): Response }) =>
      c.json(body(c.get('auth')));
    app.get('/me', auth, send);
    app.get('/all', auth, fe.requireScopes(['a', 'b']), send);
    app.get('/any', auth, fe.requireScopes(['a', 'z'], { scopeMode: 'any' }), send);
    app.get('/claims', auth, fe.requireClaims({ tenant: 't1' }), send);
    app.get('/inline', fe.requireAuth(verifier, inline), send);
    app.get('/query', fe.requireAuth(verifier, { allowQueryToken: true }), send);
    return startHttpServer(getRequestListener(app.fetch));
  },
};
