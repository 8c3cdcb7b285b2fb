import type { IncomingMessage, ServerResponse } from 'node:http';
import { ManualClock, startHttpServer, type TestHttpServer } from '@ballast/test-utils';
import { Agent, fetch, request } from 'undici';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  BreakerOpenError,
  createBreakerRegistry,
  isBreakerError,
  TimeoutError,
} from '../src/index.ts';
import { type BreakerInterceptorOptions, breakerInterceptor } from '../src/undici.ts';

type Mode = 'ok' | 'fail' | 'fail-retry-after' | 'hang' | 'die' | 'die-mid-body';

/** Resolves once `condition()` holds, checking after each turn of the event loop (no timers). */
async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 10_000 && !condition(); i++) await new Promise((r) => setImmediate(r));
  if (!condition()) throw new Error('condition never became true');
}

describe('breakerInterceptor (undici) against a real HTTP server', () => {
  let server: TestHttpServer;
  let modes: Mode[] = [];
  let received: { method: string; url: string }[] = [];
  const hanging: ServerResponse[] = [];

  beforeAll(async () => {
    server = await startHttpServer((req: IncomingMessage, res: ServerResponse) => {
      received.push({ method: req.method ?? '', url: req.url ?? '' });
      const mode = modes.length > 1 ? modes.shift()! : (modes[0] ?? 'ok');
      req.resume();
      if (mode === 'ok') res.end(`hello ${req.method}`);
      else if (mode === 'fail') res.writeHead(503).end('unavailable');
      else if (mode === 'fail-retry-after') res.writeHead(503, { 'retry-after': '2' }).end('later');
      else if (mode === 'die') req.socket.destroy();
      else if (mode === 'die-mid-body') {
        res.writeHead(200, { 'content-length': '100' });
        res.write('partial', () => req.socket.destroy());
      } else hanging.push(res);
    });
  });
  afterAll(async () => {
    await server.close();
  });
  beforeEach(() => {
    modes = ['ok'];
    received = [];
  });
  afterEach(() => {
    for (const res of hanging.splice(0)) res.destroy();
  });

  function setup(options: Partial<BreakerInterceptorOptions> = {}) {
    const clock = new ManualClock(1_000_000);
    const breakers = createBreakerRegistry({
      breaker: {
        windowType: 'consecutive',
        consecutiveFailures: 3,
        openMs: 10_000,
        halfOpenCalls: 2,
        clock,
      },
    });
    const agent = new Agent().compose(breakerInterceptor({ breakers, clock, ...options }));
    const get = (path = '/', method = 'GET') =>
      request(`${server.url}${path}`, { dispatcher: agent, method });
    return { clock, breakers, agent, get, breaker: () => breakers.get(server.url) };
  }

  it('passes successful responses through and counts 5xx as failures until the breaker opens', async () => {
    const { get, breaker } = setup();
    const ok = await get();
    expect(ok.statusCode).toBe(200);
    expect(await ok.body.text()).toBe('hello GET');
    modes = ['fail'];
    for (let i = 0; i < 3; i++) {
      const res = await get();
      expect(res.statusCode).toBe(503);
      expect(await res.body.text()).toBe('unavailable');
    }
    expect(breaker().state).toBe('OPEN');
    const before = received.length;
    const error = await get().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BreakerOpenError);
    expect(isBreakerError(error, 'BREAKER_OPEN')).toBe(true);
    expect((error as BreakerOpenError).retryAfterMs).toBe(10_000);
    expect(received.length).toBe(before);
  });

  it('recovers: after openMs the half-open trials succeed and close the breaker', async () => {
    const { get, breaker, clock } = setup();
    modes = ['fail'];
    for (let i = 0; i < 3; i++) await (await get()).body.dump();
    expect(breaker().state).toBe('OPEN');
    clock.advance(10_000);
    modes = ['ok'];
    const [a, b] = await Promise.all([get(), get()]);
    expect([a.statusCode, b.statusCode]).toEqual([200, 200]);
    await Promise.all([a.body.dump(), b.body.dump()]);
    expect(breaker().state).toBe('CLOSED');
    expect((await get()).statusCode).toBe(200);
  });

  it('counts a server that dies mid-request as a failure', async () => {
    const { get, breaker } = setup();
    modes = ['die'];
    for (let i = 0; i < 3; i++) {
      const error = await get().catch((e: unknown) => e);
      expect((error as { code?: string }).code).toBe('UND_ERR_SOCKET');
    }
    expect(breaker().state).toBe('OPEN');
  });

  it('passes a connection that dies in the middle of the body on to the caller', async () => {
    const { get } = setup();
    modes = ['die-mid-body'];
    const res = await get();
    expect(res.statusCode).toBe(200);
    const error = await res.body.text().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    modes = ['ok'];
    expect((await get()).statusCode).toBe(200);
  });

  it('times out a hanging server, aborts the request and counts it', async () => {
    const { get, breaker, clock } = setup({ timeoutMs: 2_000 });
    modes = ['hang'];
    for (let i = 0; i < 3; i++) {
      const pending = get().catch((e: unknown) => e);
      await until(() => hanging.length === i + 1);
      clock.advance(1_999);
      clock.advance(1);
      const error = await pending;
      expect(error).toBeInstanceOf(TimeoutError);
      expect((error as TimeoutError).timeoutMs).toBe(2_000);
    }
    expect(breaker().state).toBe('OPEN');
    expect(clock.pending).toBe(0);
  });

  it('retries idempotent requests honouring Retry-After, through the breaker', async () => {
    const { get, clock, breaker } = setup({
      retry: { maxAttempts: 3, initialDelayMs: 10, backoff: 'constant' },
    });
    modes = ['fail-retry-after', 'ok'];
    const pending = get('/items');
    await until(() => clock.pending === 1);
    clock.advance(1_999);
    expect(received).toHaveLength(1);
    clock.advance(1);
    const res = await pending;
    expect(res.statusCode).toBe(200);
    expect(await res.body.text()).toBe('hello GET');
    expect(received).toEqual([
      { method: 'GET', url: '/items' },
      { method: 'GET', url: '/items' },
    ]);
    expect(breaker().state).toBe('CLOSED');
  });

  it('retries connection errors of idempotent requests and returns the last 5xx when attempts run out', async () => {
    const { get, clock } = setup({
      retry: { maxAttempts: 3, initialDelayMs: 5, backoff: 'constant' },
    });
    modes = ['die', 'fail', 'fail'];
    const pending = get('/x', 'PUT');
    await until(() => clock.pending === 1);
    clock.advance(5);
    await until(() => received.length === 2 && clock.pending === 1);
    clock.advance(5);
    const res = await pending;
    expect(res.statusCode).toBe(503);
    expect(await res.body.text()).toBe('unavailable');
    expect(received.map((r) => r.method)).toEqual(['PUT', 'PUT', 'PUT']);
  });

  it('retries an attempt that timed out, and the retry answers', async () => {
    const { get, clock, breaker } = setup({
      timeoutMs: 1_000,
      retry: { maxAttempts: 2, initialDelayMs: 50, backoff: 'constant' },
    });
    modes = ['hang', 'ok'];
    const failures: unknown[] = [];
    breaker().onFailure((event) => failures.push(event));
    const pending = get('/slow');
    await until(() => hanging.length === 1);
    clock.advance(1_000);
    await until(() => clock.pending === 1);
    clock.advance(50);
    await until(() => received.length === 2);
    const res = await pending;
    expect(res.statusCode).toBe(200);
    expect(await res.body.text()).toBe('hello GET');
    expect(failures).toHaveLength(1);
    expect(breaker().state).toBe('CLOSED');
    expect(clock.pending).toBe(0);
  });

  it('never retries a POST', async () => {
    const { get, clock } = setup({ retry: { maxAttempts: 5, initialDelayMs: 1 } });
    modes = ['fail'];
    const res = await get('/orders', 'POST');
    expect(res.statusCode).toBe(503);
    await res.body.dump();
    expect(received).toHaveLength(1);
    expect(clock.pending).toBe(0);
  });

  it('a caller abort during the retry delay fails the request at once', async () => {
    const { agent, clock } = setup({
      retry: { maxAttempts: 3, initialDelayMs: 60_000, backoff: 'constant' },
    });
    modes = ['fail'];
    const controller = new AbortController();
    const pending = request(server.url, { dispatcher: agent, signal: controller.signal }).catch(
      (e: unknown) => e,
    );
    await until(() => clock.pending === 1);
    controller.abort(new Error('user cancelled'));
    expect(((await pending) as Error).message).toBe('user cancelled');
    expect(clock.pending).toBe(0);
    expect(received).toHaveLength(1);
  });

  it.each([
    ['its own registry', { breaker: { windowType: 'consecutive', consecutiveFailures: 1 } }],
    [
      'a registry passed in',
      {
        breakers: createBreakerRegistry({
          breaker: { windowType: 'consecutive', consecutiveFailures: 1 },
        }),
      },
    ],
  ] as const)(
    'does not count a caller that aborts as a failure of the origin (%s)',
    async (_label, options) => {
      const agent = new Agent().compose(breakerInterceptor(options));
      modes = ['hang'];
      for (let i = 0; i < 3; i++) {
        const controller = new AbortController();
        const pending = request(server.url, { dispatcher: agent, signal: controller.signal }).catch(
          (e: unknown) => e,
        );
        await until(() => hanging.length === i + 1);
        controller.abort(new Error('caller gave up'));
        expect(((await pending) as Error).message).toBe('caller gave up');
      }
      modes = ['ok'];
      const res = await request(server.url, { dispatcher: agent });
      expect(res.statusCode).toBe(200);
      await res.body.dump();
    },
  );

  it('works with undici fetch: an open breaker fails the fetch with BreakerOpenError as its cause', async () => {
    const { agent, breaker } = setup();
    const res = await fetch(`${server.url}/f`, { dispatcher: agent });
    expect(await res.text()).toBe('hello GET');
    breaker().transitionTo('FORCED_OPEN');
    const error = (await fetch(`${server.url}/f`, { dispatcher: agent }).catch(
      (e: unknown) => e,
    )) as Error;
    expect(error).toBeInstanceOf(TypeError);
    expect(isBreakerError(error.cause, 'BREAKER_OPEN')).toBe(true);
  });

  it('keeps one breaker per origin', async () => {
    const other = await startHttpServer((_req, res) => res.writeHead(503).end());
    try {
      const { agent, breakers } = setup();
      for (let i = 0; i < 3; i++)
        await (await request(other.url, { dispatcher: agent })).body.dump();
      expect(breakers.get(other.url).state).toBe('OPEN');
      const res = await request(server.url, { dispatcher: agent });
      expect(res.statusCode).toBe(200);
      await res.body.dump();
      expect(breakers.get(server.url).state).toBe('CLOSED');
    } finally {
      await other.close();
    }
  });

  it('builds per-origin breakers from `breaker` options when no registry is given', async () => {
    const agent = new Agent().compose(
      breakerInterceptor({ breaker: { windowType: 'consecutive', consecutiveFailures: 1 } }),
    );
    modes = ['fail'];
    await (await request(server.url, { dispatcher: agent })).body.dump();
    await expect(request(server.url, { dispatcher: agent })).rejects.toBeInstanceOf(Error);
    const error = await request(server.url, { dispatcher: agent }).catch((e: unknown) => e);
    expect(isBreakerError(error, 'BREAKER_OPEN')).toBe(true);
  });

  it.each([
    [{ timeoutMs: 0 }, 'timeoutMs'],
    [{ timeoutMs: 'fast' }, 'timeoutMs'],
    [{ retry: true }, 'retry'],
    [{ retry: { maxAttempts: 0 } }, 'retry.maxAttempts'],
    [{ isFailure: 503 }, 'isFailure'],
    [{ breakers: { lookup: () => null } }, 'breakers'],
    [{ breaker: { failureRateThreshold: 2 } }, 'breaker.failureRateThreshold'],
    [{ breaker: { ignoreError: 'aborts' } }, 'breaker.ignoreError'],
    [{ breaker: 5 }, 'breaker'],
    [{ retry: { budget: { ratio: -1 } } }, 'retry.budget.ratio'],
    [{ clock: {} }, 'clock'],
    [{ retries: 3 }, 'retries'],
  ])('rejects %j naming %s', (options, option) => {
    expect(() => breakerInterceptor(options as unknown as BreakerInterceptorOptions)).toThrow(
      expect.objectContaining({
        code: 'INVALID_OPTIONS',
        option,
        message: expect.stringContaining(`breakerInterceptor(): option "${option}"`),
      }),
    );
  });
});
