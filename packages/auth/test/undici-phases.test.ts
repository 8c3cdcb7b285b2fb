import type { IncomingMessage, ServerResponse } from 'node:http';
import { stalledPort, startHttpServer, type TestHttpServer } from '@ballast/test-utils';
import { Agent, request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import type { GetTokenOptions, TokenSource } from '../src/token-source.ts';
import { bearerInterceptor } from '../src/undici.ts';

// Every phase of an exchange through bearerInterceptor, against real servers on 127.0.0.1, with
// the caller's abort in each (issue 12). The README's "Phases of an exchange" says the same.

const open: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const thing of open.splice(0).reverse()) await thing.close();
});

/** A token source; `hold` makes getToken wait (for its signal) instead of answering. */
function tokenSource(tokens: string[]) {
  const state = {
    calls: 0,
    hold: new Set<number>(),
    signals: [] as (AbortSignal | undefined)[],
    invalidated: [] as (string | undefined)[],
  };
  const source: TokenSource = {
    getToken(options?: GetTokenOptions) {
      const call = state.calls++;
      state.signals.push(options?.signal);
      if (!state.hold.has(call)) return Promise.resolve(tokens[Math.min(call, tokens.length - 1)]!);
      return new Promise<string>((_, reject) => {
        options?.signal?.addEventListener('abort', () => reject(options.signal!.reason), {
          once: true,
        });
      });
    },
    invalidate(token) {
      state.invalidated.push(token);
    },
  };
  return { source, state };
}

type Handler = (req: IncomingMessage, res: ServerResponse, n: number) => void;

async function server(handler: Handler): Promise<TestHttpServer & { seen: string[] }> {
  const seen: string[] = [];
  const started = await startHttpServer((req, res) => {
    seen.push(req.headers.authorization ?? '');
    handler(req, res, seen.length);
  });
  open.push(started);
  return Object.assign(started, { seen });
}

function agent(source: TokenSource, origin: string, options: Agent.Options = {}) {
  const base = new Agent(options);
  open.push(base);
  return base.compose(bearerInterceptor({ tokens: { [origin]: source } }));
}

const until = async (check: () => boolean) => expect.poll(check, { timeout: 5_000 }).toBe(true);

describe('bearerInterceptor, phase by phase', () => {
  it('waiting for the token: an abort cancels getToken and fails the request at once', async () => {
    const upstream = await server((_req, res) => res.end('ok'));
    const { source, state } = tokenSource(['t1']);
    state.hold.add(0);
    const dispatcher = agent(source, upstream.url);
    const controller = new AbortController();
    const pending = request(upstream.url, { dispatcher, signal: controller.signal }).catch(
      (e: unknown) => e,
    );
    await until(() => state.calls === 1);
    const reason = new Error('caller gave up while the token was fetched');
    controller.abort(reason);
    expect(await pending).toBe(reason);
    expect(state.signals[0]?.aborted).toBe(true);
    expect(upstream.seen).toEqual([]);
  });

  it('queued (a 1-connection pool is busy): an abort takes the request out of the queue', async () => {
    let release: () => void = () => {};
    const upstream = await server((_req, res, n) => {
      if (n === 1) release = () => res.end('first');
      else res.end('later');
    });
    const { source } = tokenSource(['t1']);
    const dispatcher = agent(source, upstream.url, { connections: 1 });
    const first = request(upstream.url, { dispatcher });
    await until(() => upstream.seen.length === 1);
    const controller = new AbortController();
    const queued = request(upstream.url, { dispatcher, signal: controller.signal }).catch(
      (e: unknown) => e,
    );
    await new Promise((resolve) => setImmediate(resolve));
    const reason = new Error('caller gave up in the queue');
    controller.abort(reason);
    expect(await queued).toBe(reason);
    release();
    expect(await (await first).body.text()).toBe('first');
    expect(upstream.seen).toHaveLength(1); // the aborted request never reached the upstream
  });

  it('connecting (a TCP connect that never completes): an abort fails the request at once', async () => {
    const stalled = await stalledPort();
    open.push({ close: async () => stalled.close() });
    const origin = `http://127.0.0.1:${stalled.port}`;
    const { source, state } = tokenSource(['t1']);
    const dispatcher = agent(source, origin);
    const controller = new AbortController();
    const pending = request(origin, { dispatcher, signal: controller.signal }).catch(
      (e: unknown) => e,
    );
    await until(() => state.calls === 1); // the token is there: the attempt is now connecting
    const reason = new Error('caller gave up while connecting');
    controller.abort(reason);
    expect(await pending).toBe(reason);
    expect(state.calls).toBe(1); // no resend, no second token
    expect(state.invalidated).toEqual([]);
  });

  it('waiting for the headers: an abort ends the attempt with the caller’s reason', async () => {
    const upstream = await server(() => {}); // never answers
    const { source } = tokenSource(['t1']);
    const dispatcher = agent(source, upstream.url);
    const controller = new AbortController();
    const pending = request(upstream.url, { dispatcher, signal: controller.signal }).catch(
      (e: unknown) => e,
    );
    await until(() => upstream.seen.length === 1);
    const reason = new Error('no headers in time');
    controller.abort(reason);
    expect(await pending).toBe(reason);
    expect(upstream.seen).toEqual(['Bearer t1']);
  });

  it('reading the body: an abort ends the body with the caller’s reason', async () => {
    const upstream = await server((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('part of a body that never ends');
    });
    const { source } = tokenSource(['t1']);
    const dispatcher = agent(source, upstream.url);
    const controller = new AbortController();
    const response = await request(upstream.url, { dispatcher, signal: controller.signal });
    expect(response.statusCode).toBe(200);
    const reading = response.body.text().catch((e: unknown) => e);
    const reason = new Error('body too slow');
    controller.abort(reason);
    expect(await reading).toBe(reason);
  });

  it('the resend: a 401 whose body stalls is abandoned at its headers, not drained', async () => {
    const upstream = await server((req, res) => {
      if (req.headers.authorization === 'Bearer t1') {
        res.writeHead(401, { 'www-authenticate': 'Bearer error="invalid_token"' });
        res.write('a 401 body that stalls'); // never ended: draining it would wait for bodyTimeout
        return;
      }
      res.end('fresh');
    });
    const { source, state } = tokenSource(['t1', 't2']);
    const dispatcher = agent(source, upstream.url, { bodyTimeout: 60_000 });
    const response = await request(upstream.url, { dispatcher });
    expect(response.statusCode).toBe(200);
    expect(await response.body.text()).toBe('fresh');
    expect(upstream.seen).toEqual(['Bearer t1', 'Bearer t2']);
    expect(state.invalidated).toEqual(['t1']);
  });

  it('the resend: an abort while the new token is fetched fails the request at once', async () => {
    const upstream = await server((_req, res) => {
      res.writeHead(401, { 'www-authenticate': 'Bearer error="invalid_token"' });
      res.end('expired');
    });
    const { source, state } = tokenSource(['t1', 't2']);
    state.hold.add(1);
    const dispatcher = agent(source, upstream.url);
    const controller = new AbortController();
    const pending = request(upstream.url, { dispatcher, signal: controller.signal }).catch(
      (e: unknown) => e,
    );
    await until(() => state.calls === 2);
    const reason = new Error('gave up during the refresh');
    controller.abort(reason);
    expect(await pending).toBe(reason);
    expect(state.signals[1]?.aborted).toBe(true);
    expect(upstream.seen).toEqual(['Bearer t1']);
  });

  it('the resend: an abort while the resent request waits for headers ends it', async () => {
    const upstream = await server((req, res) => {
      if (req.headers.authorization === 'Bearer t1') {
        res.writeHead(401, { 'www-authenticate': 'Bearer error="invalid_token"' });
        res.end();
      } // the resend never gets an answer
    });
    const { source } = tokenSource(['t1', 't2']);
    const dispatcher = agent(source, upstream.url);
    const controller = new AbortController();
    const pending = request(upstream.url, { dispatcher, signal: controller.signal }).catch(
      (e: unknown) => e,
    );
    await until(() => upstream.seen.length === 2);
    const reason = new Error('resend too slow');
    controller.abort(reason);
    expect(await pending).toBe(reason);
  });

  it('sends a request with an Idempotency-Key header again (the kernel rule); a plain POST gets the 401', async () => {
    const upstream = await server((req, res) => {
      if (req.headers.authorization === 'Bearer t1') {
        res.writeHead(401, { 'www-authenticate': 'Bearer error="invalid_token"' });
        res.end();
        return;
      }
      res.end('ok');
    });
    const keyed = tokenSource(['t1', 't2']);
    const withKey = await request(upstream.url, {
      dispatcher: agent(keyed.source, upstream.url),
      method: 'POST',
      body: '{}',
      headers: { 'idempotency-key': 'k1' },
    });
    expect(withKey.statusCode).toBe(200);
    await withKey.body.text();
    const plain = tokenSource(['t1', 't2']);
    const post = await request(upstream.url, {
      dispatcher: agent(plain.source, upstream.url),
      method: 'POST',
      body: '{}',
    });
    expect(post.statusCode).toBe(401);
    await post.body.text();
  });
});
