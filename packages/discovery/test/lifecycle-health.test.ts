import { flushMicrotasks, ManualClock } from '@ballast/test-utils';
import { describe, expect, it } from 'vitest';
import {
  breakerIndicator,
  createHealth,
  type HealthIndicator,
  httpStatusOf,
  isDiscoveryError,
  redisIndicator,
} from '../src/lifecycle/index.ts';

const never = () => new Promise<never>(() => {});

describe('createHealth()', () => {
  it('maps statuses to HTTP as Spring Boot Actuator does', () => {
    expect(httpStatusOf('UP')).toBe(200);
    expect(httpStatusOf('DEGRADED')).toBe(200);
    expect(httpStatusOf('OUT_OF_SERVICE')).toBe(503);
    expect(httpStatusOf('DOWN')).toBe(503);
  });

  it('runs every indicator in parallel and cuts a hanging one at its own timeout, reporting it', async () => {
    const clock = new ManualClock();
    let signal: AbortSignal | undefined;
    const started: string[] = [];
    const hanging: HealthIndicator = {
      name: 'db',
      critical: true,
      timeoutMs: 300,
      check: (context) => {
        started.push('db');
        signal = context.signal;
        return never();
      },
    };
    const quick: HealthIndicator = {
      name: 'cache',
      check: () => {
        started.push('cache');
        return 'UP';
      },
    };
    const health = createHealth({
      indicators: [hanging, quick],
      clock,
      maxEventLoopDelayMs: false,
    });
    let settled = false;
    const report = health.ready().then((r) => {
      settled = true;
      return r;
    });
    await flushMicrotasks();
    expect(started).toEqual(['db']); // ready() checks the critical ones only
    await clock.advanceAsync(299);
    expect(settled).toBe(false);
    await clock.advanceAsync(1);
    const result = await report;
    expect(result.status).toBe('DOWN');
    expect(result.httpStatus).toBe(503);
    expect(result.components.db).toMatchObject({ status: 'DOWN', timedOut: true, durationMs: 300 });
    expect(result.components.db?.error).toMatch(/did not answer within 300 ms/);
    expect(signal?.aborted).toBe(true);
    expect(isDiscoveryError(signal?.reason, 'HEALTH_CHECK_TIMEOUT')).toBe(true);

    const all = health.check();
    await flushMicrotasks();
    expect(started).toEqual(['db', 'db', 'cache']); // started together
    await clock.advanceAsync(300);
    expect((await all).components.cache?.status).toBe('UP');
    await health.close();
  });

  it('uses the default timeoutMs (500) when an indicator gives none', async () => {
    const clock = new ManualClock();
    const health = createHealth({
      indicators: [{ name: 'slow', critical: true, check: never }],
      clock,
      maxEventLoopDelayMs: false,
    });
    const report = health.ready();
    await clock.advanceAsync(500);
    expect((await report).components.slow?.timedOut).toBe(true);
  });

  it('caches a result for cacheMs and shares one check between concurrent probes', async () => {
    const clock = new ManualClock();
    let calls = 0;
    let release: (() => void) | undefined;
    const health = createHealth({
      clock,
      maxEventLoopDelayMs: false,
      indicators: [
        {
          name: 'db',
          critical: true,
          cacheMs: 1000,
          check: () => {
            calls++;
            return new Promise<'UP'>((resolve) => {
              release = () => resolve('UP');
            });
          },
        },
      ],
    });
    const a = health.ready();
    const b = health.ready();
    await flushMicrotasks();
    expect(calls).toBe(1);
    release?.();
    expect((await a).status).toBe('UP');
    expect((await b).status).toBe('UP');
    const cached = await health.ready();
    expect(calls).toBe(1);
    expect(cached.components.db?.cached).toBe(true);
    clock.advance(1000);
    const fresh = health.ready();
    await flushMicrotasks();
    expect(calls).toBe(2);
    release?.();
    expect((await fresh).components.db?.cached).toBeUndefined();
  });

  it('reports a throwing check and a nonsense answer as DOWN with the reason', async () => {
    const health = createHealth({
      maxEventLoopDelayMs: false,
      indicators: [
        {
          name: 'throws',
          critical: true,
          check: () => {
            throw new Error('boom');
          },
        },
        { name: 'nonsense', critical: true, check: () => 'GREEN' as never },
      ],
    });
    const report = await health.ready();
    expect(report.components.throws).toMatchObject({ status: 'DOWN', error: 'boom' });
    expect(report.components.nonsense?.status).toBe('DOWN');
    expect(report.components.nonsense?.error).toMatch(/not a status/);
  });

  it('aggregates: a non-critical failure is DEGRADED in /health and absent from /readyz', async () => {
    const health = createHealth({
      maxEventLoopDelayMs: false,
      indicators: [
        { name: 'core', critical: true, check: () => 'UP' },
        { name: 'extra', check: () => 'DOWN' },
      ],
    });
    const ready = await health.ready();
    expect(ready.status).toBe('UP');
    expect(Object.keys(ready.components)).toEqual(['readiness', 'core']);
    const all = await health.check();
    expect(all.status).toBe('DEGRADED');
    expect(all.httpStatus).toBe(200);
    expect(all.components.extra?.status).toBe('DOWN');
  });

  it('readiness: setReady(false) is OUT_OF_SERVICE at once; liveness is untouched', async () => {
    const health = createHealth({ ready: false });
    expect(health.isReady).toBe(false);
    expect((await health.ready()).status).toBe('OUT_OF_SERVICE');
    health.setReady(true);
    expect((await health.ready()).status).toBe('UP');
    health.setReady(false);
    expect((await health.live()).status).toBe('UP');
    await health.close();
  });

  it('liveness turns DOWN when the event loop was blocked longer than maxEventLoopDelayMs, then recovers', async () => {
    const health = createHealth({ maxEventLoopDelayMs: 100 });
    await new Promise((resolve) => setTimeout(resolve, 30));
    await health.live(); // starts a fresh window
    await new Promise((resolve) => setTimeout(resolve, 30));
    const until = performance.now() + 250;
    while (performance.now() < until) {
      // a blocked event loop
    }
    await new Promise((resolve) => setTimeout(resolve, 30));
    const blocked = await health.live();
    expect(blocked.status).toBe('DOWN');
    expect(blocked.httpStatus).toBe(503);
    expect(blocked.components.eventLoop?.details?.maxDelayMs).toBeGreaterThan(100);
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect((await health.live()).status).toBe('UP');
    await health.close();
  });

  it('add() adds an indicator later; its subscription removes it', async () => {
    const health = createHealth({ maxEventLoopDelayMs: false });
    const sub = health.add({ name: 'late', critical: true, check: () => 'DOWN' });
    expect((await health.ready()).status).toBe('DOWN');
    sub.dispose();
    expect((await health.ready()).status).toBe('UP');
  });

  it('rejects bad options and duplicate names with INVALID_OPTIONS', () => {
    const bad = (fn: () => unknown, option: string) => {
      try {
        fn();
        expect.unreachable();
      } catch (error) {
        expect(isDiscoveryError(error, 'INVALID_OPTIONS')).toBe(true);
        if (isDiscoveryError(error, 'INVALID_OPTIONS')) expect(error.option).toBe(option);
      }
    };
    bad(() => createHealth({ timeoutMs: 0 }), 'timeoutMs');
    bad(() => createHealth({ maxEventLoopDelayMs: -1 }), 'maxEventLoopDelayMs');
    bad(() => createHealth({ indicators: [{ name: '' } as never] }), 'indicators.0');
    bad(
      () =>
        createHealth({
          indicators: [
            { name: 'a', check: () => 'UP' },
            { name: 'a', check: () => 'UP' },
          ],
        }),
      'indicators',
    );
    bad(
      () => createHealth({ indicators: [{ name: 'readiness', check: () => 'UP' }] }),
      'indicators',
    );
    bad(
      () => createHealth({ indicators: [{ name: 'x', timeoutMs: -5, check: () => 'UP' }] }),
      'indicators.x.timeoutMs',
    );
  });
});

describe('built-in indicators', () => {
  it('breakerIndicator: open on a non-critical dependency is DEGRADED, on a critical one DOWN', async () => {
    const breaker = { state: 'OPEN' };
    const health = createHealth({
      maxEventLoopDelayMs: false,
      indicators: [
        breakerIndicator(breaker, { name: 'mail' }),
        breakerIndicator(breaker, { name: 'payments', critical: true }),
      ],
    });
    const all = await health.check();
    expect(all.components.mail).toMatchObject({ status: 'DEGRADED', details: { state: 'OPEN' } });
    expect(all.components.payments?.status).toBe('DOWN');
    expect(all.status).toBe('DOWN');
    breaker.state = 'HALF_OPEN';
    expect((await health.check()).status).toBe('DEGRADED');
    breaker.state = 'CLOSED';
    expect((await health.check()).status).toBe('UP');
  });

  it('redisIndicator: PONG is UP; an error is DOWN when critical, DEGRADED when not', async () => {
    let fail = false;
    const client = {
      ping: async () => (fail ? Promise.reject(new Error('ECONNREFUSED')) : 'PONG'),
    };
    const critical = redisIndicator(client, { critical: true });
    const optional = redisIndicator(client, { name: 'cache' });
    expect(critical.name).toBe('redis');
    const context = { signal: new AbortController().signal };
    expect(await critical.check(context)).toEqual({ status: 'UP' });
    fail = true;
    expect(await critical.check(context)).toEqual({
      status: 'DOWN',
      details: { error: 'ECONNREFUSED' },
    });
    expect((await optional.check(context)) as { status: string }).toMatchObject({
      status: 'DEGRADED',
    });
  });
});
