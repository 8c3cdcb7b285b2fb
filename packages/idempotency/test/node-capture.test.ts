import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { startHttpServer, type TestHttpServer } from '@ballast/test-utils';
import express from 'express';
import { afterEach, describe, expect, it } from 'vitest';
import { idempotency } from '../src/adapters/express.ts';
import { memoryStore } from '../src/index.ts';
import { post } from './support/http.ts';

// The response capture of the Node adapters (src/node-response.ts), beyond the behaviour suite:
// the methods it puts back when done, and the headers it stores.
let server: TestHttpServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function start(route: express.RequestHandler, before?: express.RequestHandler) {
  const app = express();
  app.use(express.json());
  app.use(idempotency({ store: memoryStore() }));
  if (before) app.use(before);
  app.post('/payments', route);
  server = await startHttpServer(app as never);
  return `${server.url}/payments`;
}

describe('node response capture', () => {
  it('keeps a writeHead wrapper added after the capture (on-headers style)', async () => {
    let wrapped = 0;
    // What on-headers does: wrap writeHead to set a header just before the head is written.
    const onHeaders: express.RequestHandler = (_req, res, next) => {
      const writeHead = res.writeHead;
      res.writeHead = function (this: ServerResponse, ...args: unknown[]) {
        wrapped++;
        this.setHeader('x-response-time', '1ms');
        return (writeHead as (...a: unknown[]) => ServerResponse).apply(this, args);
      } as never;
      next();
    };
    const url = await start((_req, res) => {
      res.status(201).json({ ok: true });
    }, onHeaders);
    const key = randomUUID();
    const first = await post(url, key, {});
    expect(first.status).toBe(201);
    expect(first.headers['x-response-time']).toBe('1ms');
    expect(wrapped).toBe(1);
    const replay = await post(url, key, {});
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(replay.body.toString()).toBe('{"ok":true}');
  });

  it('stores headers given to writeHead once, lower-case, over those set before', async () => {
    const url = await start((_req, res) => {
      res.setHeader('Content-Type', 'text/plain');
      res.setHeader('ETag', '"a"');
      res.writeHead(201, { 'Content-Type': 'application/json', Location: '/payments/1' });
      res.end('{"id":1}');
    });
    const key = randomUUID();
    expect((await post(url, key, {})).status).toBe(201);
    const replay = await post(url, key, {});
    expect(replay.status).toBe(201);
    expect(replay.headers['content-type']).toBe('application/json');
    expect(replay.headers.location).toBe('/payments/1');
    expect(replay.headers.etag).toBe('"a"');
    expect(replay.body.toString()).toBe('{"id":1}');
  });

  it('stores a string body in its encoding byte for byte', async () => {
    const text = 'café ☕';
    const url = await start((_req, res) => {
      res.statusCode = 200;
      res.setHeader('content-type', 'text/plain; charset=latin1');
      res.end(Buffer.from(text, 'latin1').toString('latin1'), 'latin1');
    });
    const key = randomUUID();
    const first = await post(url, key, {});
    const replay = await post(url, key, {});
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(replay.body).toEqual(first.body);
    expect(replay.body).toEqual(Buffer.from(text, 'latin1'));
  });
});
