// One process per server of the proxy bench: `node proxy-server.ts upstream` (the service: a small
// JSON answer), or `node proxy-server.ts <variant> <upstream port>` (a one-route proxy in front of
// it). Prints `listening <url>` for startServerProcess.
import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { staticRegistry } from '@ballast/discovery';
import * as ballastExpress from '@ballast/discovery/express';
import * as ballastFastify from '@ballast/discovery/fastify';
import { createRouter } from '@ballast/discovery/router';
import fastifyHttpProxy from '@fastify/http-proxy';
import express from 'express';
import Fastify from 'fastify';
import { createProxyMiddleware } from 'http-proxy-middleware';

const [variant, upstreamPort] = process.argv.slice(2);
const upstream = `http://127.0.0.1:${upstreamPort}`;
const body = JSON.stringify({ id: 7, items: [{ sku: 'a-1', qty: 2 }], status: 'paid' });

/** The same route for both Ballast variants: discovery, the dispatcher's retry, a breaker. */
function router() {
  return createRouter(
    [
      {
        match: { pathPrefix: '/api/orders' },
        to: 'http://orders',
        rewrite: { stripPrefix: true },
        policies: { breaker: {} },
      },
    ],
    {
      registry: staticRegistry([
        { id: 'o1', service: 'orders', address: '127.0.0.1', port: Number(upstreamPort) },
      ]),
    },
  );
}

async function start(): Promise<Server> {
  switch (variant) {
    case 'upstream': {
      const listener: RequestListener = (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
        res.end(body);
      };
      return createServer(listener);
    }
    case 'ballast-fastify': {
      const app = Fastify();
      await app.register(ballastFastify.proxy(router()));
      await app.ready();
      return app.server;
    }
    case 'fastify-http-proxy': {
      const app = Fastify();
      await app.register(fastifyHttpProxy, { upstream, prefix: '/api/orders' });
      await app.ready();
      return app.server;
    }
    case 'ballast-express': {
      const app = express();
      app.use(ballastExpress.proxy(router()));
      return createServer(app);
    }
    case 'http-proxy-middleware': {
      const app = express();
      app.use(
        createProxyMiddleware({
          target: upstream,
          pathFilter: '/api/orders',
          pathRewrite: { '^/api/orders': '' },
        }),
      );
      return createServer(app);
    }
    default:
      throw new Error(`unknown variant ${variant}`);
  }
}

const server = await start();
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo;
  console.log(`listening http://127.0.0.1:${port}`);
});
process.on('SIGTERM', () => process.exit(0));
