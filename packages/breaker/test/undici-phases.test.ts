import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  ManualClock,
  stalledPort,
  startHttpServer,
  type TestHttpServer,
} from '@ballast/test-utils';
import { Agent, request } from 'undici';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type BreakerOptions, createBreakerRegistry, isBreakerError } from '../src/index.ts';
import { type BreakerInterceptorOptions, breakerInterceptor } from '../src/undici.ts';

// Issue 12: the interceptor judges the whole exchange, phase by phase, against real servers on
// 127.0.0.1: waiting for a connection (queued, connecting), waiting for the headers, reading the
// body, draining a failed response before a retry, and between retries — with a caller's abort
// in each phase, which is never counted and never retried.

/** Resolves once `condition()` holds, checking after each turn of the event loop. */
async function until(condition: () => boolean, what = 'condition'): Promise<void> {
  for (let i = 0; i < 20_000 && !condition(); i++) await new Promise((r) => setImmediate(r));
  if (!condition()) throw new Error(`${what} never became true`);
}

/** A gate a server response waits on; the test opens it. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open = () => {};
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}

type Mode = 'ok' | '503' | 'die-mid-body' | 'slow-body' | 'stall-503' | 'hang' | 'held';

describe('breakerInterceptor: every phase of an exchange', () => {
  let server: TestHttpServer;
  let script: Mode[] = [];
  let received = 0;
  let release = gate();
  const open = new Set<ServerResponse>();

  beforeAll(async () => {
    server = await startHttpServer((req: IncomingMessage, res: ServerResponse) => {
      received++;
      open.add(res);
      res.once('close', () => open.delete(res));
      req.resume();
      const mode = script.shift() ?? 'ok';
      if (mode === 'ok') res.end('hello');
      else if (mode === '503') res.writeHead(503).end('unavailable');
      else if (mode === 'die-mid-body') {
        res.writeHead(200, { 'content-length': '100' });
        res.write('partial', () => req.socket.destroy());
      } else if (mode === 'slow-body') {
        res.writeHead(200, { 'content-length': '4' });
        res.flushHeaders();
        void release.promise.then(() => res.end('late'));
      } else if (mode === 'stall-503') {
        res.writeHead(503, { 'content-length': '100' });
        res.write('never ends');
      } else if (mode === 'held') void release.promise.then(() => res.end('held'));
      // 'hang': never answers
    });
  });
  afterAll(() => server.close());
  beforeEach(() => {
    script = [];
    received = 0;
    release = gate();
  });
  afterEach(() => {
    for (const res of open) res.destroy();
  });

  function setup(
    options: Partial<BreakerInterceptorOptions> = {},
    breaker: Omit<BreakerOptions, 'name' | 'clock'> = {},
    agentOptions: ConstructorParameters<typeof Agent>[0] = {},
  ) {
    const clock = new ManualClock(1_000_000);
    const defaults = breaker.windowType === undefined ? { windowSize: 20, minimumCalls: 20 } : {};
    const breakers = createBreakerRegistry({
      breaker: { ...defaults, slowCallDurationMs: 200, ...breaker, clock },
    });
    const agent = new Agent(agentOptions).compose(
      breakerInterceptor({ breakers, clock, ...options }),
    );
    const get = (url = server.url, signal?: AbortSignal) =>
      request(url, { dispatcher: agent, method: 'GET', signal });
    return {
      clock,
      agent,
      get,
      metrics: (url = server.url) => breakers.get(url).metrics(),
      breaker: (url = server.url) => breakers.get(url),
    };
  }

  describe('reading the body', () => {
    it('counts a body that dies mid-way as a failure, and the caller sees the error', async () => {
      const { get, metrics, agent } = setup();
      script = ['die-mid-body'];
      const res = await get();
      expect(res.statusCode).toBe(200);
      await expect(res.body.text()).rejects.toThrow();
      await until(() => metrics().calls === 1, 'the call booked');
      expect(metrics()).toMatchObject({ calls: 1, failedCalls: 1 });
      await agent.close();
    });

    it('stops the clock at the last byte: instant headers and a 250 ms body make a slow call', async () => {
      const { get, metrics, clock, agent } = setup();
      script = ['slow-body'];
      const res = await get();
      expect(res.statusCode).toBe(200);
      expect(metrics().calls).toBe(0); // nothing is booked at the headers
      clock.advance(250);
      release.open();
      expect(await res.body.text()).toBe('late');
      expect(metrics()).toMatchObject({ calls: 1, failedCalls: 0, slowCalls: 1 });
      await agent.close();
    });

    it('times out a body that does not end within timeoutMs of dispatch (phase "body")', async () => {
      const { get, metrics, clock, agent } = setup({ timeoutMs: 300 });
      script = ['slow-body'];
      const res = await get();
      const body = res.body.text().catch((e: unknown) => e);
      clock.advance(300);
      const error = await body;
      expect(isBreakerError(error, 'TIMEOUT') && error.phase).toBe('body');
      expect(metrics()).toMatchObject({ calls: 1, failedCalls: 1 });
      await agent.close();
    });

    it('a caller that stops reading mid-body is not counted', async () => {
      const { get, metrics, agent } = setup();
      script = ['slow-body'];
      const caller = new AbortController();
      const res = await get(server.url, caller.signal);
      const body = res.body.text().catch((e: unknown) => e);
      caller.abort(new Error('reader left'));
      expect(((await body) as Error).message).toBe('reader left');
      await until(() => metrics().calls + open.size === 0 || received > 0);
      expect(metrics()).toMatchObject({ calls: 0, failedCalls: 0 });
      await agent.close();
    });
  });

  describe('waiting for the headers', () => {
    it('times out a server that never answers (phase "headers") and counts it', async () => {
      const { get, metrics, clock, agent } = setup({ timeoutMs: 300 });
      script = ['hang'];
      const pending = get().catch((e: unknown) => e);
      await until(() => received === 1, 'the request reached the server');
      clock.advance(300);
      const error = await pending;
      expect(isBreakerError(error, 'TIMEOUT') && error.phase).toBe('headers');
      expect(metrics()).toMatchObject({ calls: 1, failedCalls: 1 });
      await agent.close();
    });

    it('a caller abort in flight is not counted and not retried', async () => {
      const { get, metrics, agent } = setup({ retry: { maxAttempts: 3 } });
      script = ['hang', 'hang', 'hang'];
      const caller = new AbortController();
      const pending = get(server.url, caller.signal).catch((e: unknown) => e);
      await until(() => received === 1, 'the request reached the server');
      caller.abort(new Error('gave up'));
      expect(((await pending) as Error).message).toBe('gave up');
      expect(metrics()).toMatchObject({ calls: 0, failedCalls: 0 });
      expect(received).toBe(1);
      await agent.close();
    });
  });

  describe('waiting for a connection', () => {
    let stalled: { port: number; close: () => void };
    beforeAll(async () => {
      stalled = await stalledPort();
    });
    afterAll(() => stalled.close());

    it('times out a connect that never completes at timeoutMs (phase "connection"), not at undici’s 10 s', async () => {
      const { get, metrics, clock, agent } = setup({ timeoutMs: 300 });
      const url = `http://127.0.0.1:${stalled.port}`;
      const pending = get(url).catch((e: unknown) => e);
      await new Promise((resolve) => setTimeout(resolve, 20));
      clock.advance(300);
      const error = await pending;
      expect(isBreakerError(error, 'TIMEOUT') && error.phase).toBe('connection');
      expect(metrics(url)).toMatchObject({ calls: 1, failedCalls: 1 });
      await agent.destroy();
    });

    it('a caller abort while connecting is not counted', async () => {
      const { get, metrics, agent } = setup({ retry: { maxAttempts: 3 } });
      const url = `http://127.0.0.1:${stalled.port}`;
      const caller = new AbortController();
      const pending = get(url, caller.signal).catch((e: unknown) => e);
      await new Promise((resolve) => setTimeout(resolve, 20));
      caller.abort(new Error('not waiting'));
      expect(((await pending) as Error).message).toBe('not waiting');
      expect(metrics(url)).toMatchObject({ calls: 0, failedCalls: 0 });
      await agent.destroy();
    });

    it('queued callers that give up on a 1-connection pool are not counted nor retried', async () => {
      const { get, metrics, agent, breaker } = setup(
        { retry: { maxAttempts: 3 } },
        { windowSize: 10, minimumCalls: 2, failureRateThreshold: 0.5 },
        { connections: 1 },
      );
      script = ['held'];
      const first = get();
      await until(() => received === 1, 'the first request reached the server');
      const callers = Array.from({ length: 5 }, () => new AbortController());
      const queued = callers.map((c) => get(server.url, c.signal).catch((e: unknown) => e));
      await new Promise((resolve) => setImmediate(resolve));
      callers.forEach((c, i) => {
        c.abort(new Error(`impatient ${i}`));
      });
      const errors = (await Promise.all(queued)) as Error[];
      expect(errors.map((e) => e.message)).toEqual([0, 1, 2, 3, 4].map((i) => `impatient ${i}`));
      release.open();
      expect(await (await first).body.text()).toBe('held');
      expect(received).toBe(1); // none of them was sent, nor retried
      expect(metrics()).toMatchObject({ calls: 1, failedCalls: 0 });
      expect(breaker().state).toBe('CLOSED');
      await agent.close();
    });
  });

  describe('draining a failed response before a retry', () => {
    it('bounds the drain of a 503 whose body stalls, then retries', async () => {
      const { get, metrics, clock, agent } = setup({
        retry: { maxAttempts: 2, backoff: 'constant', initialDelayMs: 10 },
      });
      script = ['stall-503', 'ok'];
      const pending = get();
      await until(() => received === 1, 'the first attempt reached the server');
      await new Promise((resolve) => setTimeout(resolve, 20));
      clock.advance(1_000); // the drain's bound: the connection is closed instead
      await new Promise((resolve) => setImmediate(resolve));
      clock.advance(10); // the retry delay
      const res = await pending;
      expect(res.statusCode).toBe(200);
      expect(await res.body.text()).toBe('hello');
      expect(metrics()).toMatchObject({ calls: 2, failedCalls: 1 });
      await agent.close();
    });

    it('a caller abort while draining is not counted and stops the retries', async () => {
      const { get, metrics, agent } = setup({
        retry: { maxAttempts: 3, backoff: 'constant', initialDelayMs: 10 },
      });
      script = ['stall-503', 'ok', 'ok'];
      const caller = new AbortController();
      const pending = get(server.url, caller.signal).catch((e: unknown) => e);
      await until(() => received === 1, 'the first attempt reached the server');
      await new Promise((resolve) => setTimeout(resolve, 20));
      caller.abort(new Error('enough'));
      expect(((await pending) as Error).message).toBe('enough');
      expect(metrics()).toMatchObject({ calls: 0, failedCalls: 0 });
      expect(received).toBe(1);
      await agent.close();
    });
  });

  describe('between retries', () => {
    it('a caller abort during the retry delay is not counted (only the real 503 is)', async () => {
      const { get, metrics, agent } = setup({
        retry: { maxAttempts: 3, backoff: 'constant', initialDelayMs: 5_000 },
      });
      script = ['503', 'ok'];
      const caller = new AbortController();
      const pending = get(server.url, caller.signal).catch((e: unknown) => e);
      await until(() => metrics().calls === 1, 'the first attempt booked');
      caller.abort(new Error('no more waiting'));
      expect(((await pending) as Error).message).toBe('no more waiting');
      expect(metrics()).toMatchObject({ calls: 1, failedCalls: 1 });
      expect(received).toBe(1);
      await agent.close();
    });

    it('returns the last real answer (the 503 and its body) when the breaker opens between attempts', async () => {
      const { get, clock, agent, breaker } = setup(
        { retry: { maxAttempts: 3, backoff: 'constant', initialDelayMs: 10 } },
        { windowType: 'consecutive', consecutiveFailures: 1, openMs: 60_000 },
      );
      script = ['503', 'ok'];
      const pending = get();
      await until(() => breaker().state === 'OPEN', 'the breaker opened');
      clock.advance(10);
      const res = await pending;
      expect(res.statusCode).toBe(503);
      expect(await res.body.text()).toBe('unavailable');
      expect(received).toBe(1);
      await agent.close();
    });

    it('returns the last real error when the breaker opens after a connection error', async () => {
      const { get, clock, agent, breaker } = setup(
        { retry: { maxAttempts: 3, backoff: 'constant', initialDelayMs: 10 }, timeoutMs: 300 },
        { windowType: 'consecutive', consecutiveFailures: 1, openMs: 60_000 },
      );
      script = ['hang'];
      const pending = get().catch((e: unknown) => e);
      await until(() => received === 1, 'the request reached the server');
      clock.advance(300);
      await until(() => breaker().state === 'OPEN', 'the breaker opened');
      clock.advance(10);
      const error = await pending;
      expect(isBreakerError(error, 'TIMEOUT')).toBe(true); // not BREAKER_OPEN: a request was sent
      await agent.close();
    });
  });

  describe('retry budget', () => {
    it('is per origin by default: one origin’s outage does not spend another’s retries', async () => {
      const other = await startHttpServer((_req, res) => {
        res.writeHead(503).end('other down');
      });
      try {
        for (const [retryBudget, otherRetried] of [
          [undefined, true],
          ['shared', false],
        ] as const) {
          const { get, clock, agent, metrics } = setup({
            retryBudget,
            retry: {
              maxAttempts: 2,
              backoff: 'constant',
              initialDelayMs: 10,
              budget: { ratio: 0, minPerSecond: 1 },
            },
          });
          received = 0;
          script = ['503', 'ok'];
          const first = get();
          await until(() => metrics().calls === 1, 'the first 503 booked');
          clock.advance(10);
          expect((await first).statusCode).toBe(200); // this origin used its one retry
          let otherCalls = 0;
          other.server.removeAllListeners('request');
          other.server.on('request', (_req: IncomingMessage, res: ServerResponse) => {
            otherCalls++;
            res.writeHead(503).end('other down');
          });
          const second = get(other.url);
          await until(() => metrics(other.url).calls === 1, 'the other 503 booked');
          clock.advance(10);
          expect((await second).statusCode).toBe(503);
          expect(otherCalls).toBe(otherRetried ? 2 : 1);
          await agent.close();
        }
      } finally {
        await other.close();
      }
    });
  });
});
