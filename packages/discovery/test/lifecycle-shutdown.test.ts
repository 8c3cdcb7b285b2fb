import { Agent, request as httpRequest } from 'node:http';
import {
  flushMicrotasks,
  ManualClock,
  startHttpServer,
  type TestHttpServer,
} from '@ballast/test-utils';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { probes } from '../src/adapters/node-http.ts';
import type { ServiceRegistration } from '../src/index.ts';
import type { Campaign, Lease } from '../src/lease/index.ts';
import {
  createHealth,
  createShutdown,
  type GracefulShutdown,
  isDiscoveryError,
  type ShutdownStepEvent,
} from '../src/lifecycle/index.ts';

function fakeRegistration(log: string[], fail = false): ServiceRegistration {
  return {
    instance: { id: 'orders-1', service: 'orders' } as ServiceRegistration['instance'],
    state: 'registered',
    onError: () => ({ dispose() {}, [Symbol.dispose]() {} }),
    markDraining: async () => void log.push('markDraining'),
    deregister: async () => {
      log.push('deregister');
      if (fail) throw new Error('registry down');
    },
    close: async () => void log.push('close'),
    [Symbol.asyncDispose]: async () => {},
  };
}

/** A server with the probes, `/slow` (answers when the test says) and `/fast`. */
async function startApp() {
  const health = createHealth({ maxEventLoopDelayMs: false });
  const answerProbe = probes(health);
  const slow: (() => void)[] = [];
  const app = await startHttpServer(async (req, res) => {
    if (await answerProbe(req, res)) return;
    if (req.url === '/slow') {
      slow.push(() => res.end('slow done'));
      return;
    }
    res.end('fast');
  });
  return { health, app, slow };
}

/** A GET on a fresh connection (or on `agent`), resolving to status, headers and body. */
function get(
  url: string,
  agent?: Agent,
): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { agent: agent ?? false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const fn of cleanup.reverse()) await fn();
  cleanup = [];
});

function track(shutdown: GracefulShutdown, app: TestHttpServer) {
  cleanup.push(
    () => shutdown.close(),
    () => app.close().catch(() => {}),
  );
}

describe('createShutdown()', () => {
  it('runs the sequence in order on SIGTERM: readiness off at once, liveness up, delay, deregister, stop accepting, drain, release, hooks, exit(0)', async () => {
    const clock = new ManualClock();
    const { health, app, slow } = await startApp();
    const log: string[] = [];
    const exit = vi.fn();
    const campaign = {
      id: 'c1',
      resign: async () => void log.push('resign'),
    } as unknown as Campaign;
    const lease = {
      key: 'k1',
      release: async () => {
        log.push('release');
        return true;
      },
    } as unknown as Lease;
    const shutdown = createShutdown({
      health,
      servers: [app.server],
      registrations: [fakeRegistration(log)],
      campaigns: [campaign],
      leases: [lease],
      hooks: [
        () => void log.push('flush telemetry'),
        { name: 'redis', run: () => void log.push('close redis') },
      ],
      exit,
      clock,
    });
    track(shutdown, app);
    const events: string[] = [];
    shutdown.onStep((event: ShutdownStepEvent) => events.push(`${event.step}:${event.phase}`));

    const inFlight = get(`${app.url}/slow`);
    await vi.waitFor(() => expect(slow).toHaveLength(1));

    process.emit('SIGTERM');
    await flushMicrotasks();
    expect(shutdown.state).toBe('running');
    expect(log).toEqual(['markDraining']);
    const ready = await get(`${app.url}/readyz`);
    expect(ready.status).toBe(503);
    expect(JSON.parse(ready.body)).toEqual({ status: 'OUT_OF_SERVICE' });
    expect(ready.headers.connection).toBe('close');
    expect((await get(`${app.url}/livez`)).status).toBe(200);
    expect((await get(`${app.url}/fast`)).body).toBe('fast'); // still serving during the delay
    expect(events).toEqual(['readiness:started', 'readiness:done', 'delay:started']);

    await clock.advanceAsync(4999);
    expect(log).toEqual(['markDraining']);
    await clock.advanceAsync(1);
    await vi.waitFor(() => expect(events).toContain('drain:started'));
    expect(log).toEqual(['markDraining', 'deregister']);
    await expect(get(`${app.url}/fast`)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    expect(await get(`${app.url}/livez`).catch(() => undefined)).toBeUndefined();

    slow[0]?.();
    const done = await inFlight;
    expect(done.body).toBe('slow done');
    expect(done.headers.connection).toBe('close');
    await vi.waitFor(() => expect(exit).toHaveBeenCalledWith(0));
    expect(exit).toHaveBeenCalledTimes(1);
    expect(log).toEqual([
      'markDraining',
      'deregister',
      'resign',
      'release',
      'flush telemetry',
      'close redis',
    ]);
    expect(events.filter((e) => !e.endsWith(':started'))).toEqual([
      'readiness:done',
      'delay:done',
      'deregister:done',
      'stop-accepting:done',
      'drain:done',
      'release:done',
      'hooks:done',
    ]);
    expect(shutdown.state).toBe('done');
    expect(process.listenerCount('SIGTERM')).toBe(0);
  });

  it('closes idle keep-alive sockets when it stops accepting', async () => {
    const { health, app } = await startApp();
    const shutdown = createShutdown({
      health,
      servers: [app.server],
      shutdownDelayMs: 0,
      signals: [],
    });
    track(shutdown, app);
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    cleanup.push(async () => agent.destroy());
    expect((await get(`${app.url}/fast`, agent)).headers.connection).toBe('keep-alive');
    const [socket] = Object.values(agent.freeSockets).flat();
    expect(socket).toBeDefined();
    const closed = new Promise((resolve) => socket?.once('close', resolve));
    const report = await shutdown.shutdown('test');
    await closed;
    expect(report.ok).toBe(true);
    expect(report.reason).toBe('test');
  });

  it('keeps idle keep-alive sockets open during the delay (a client may still send on them), and answers on them with Connection: close', async () => {
    const clock = new ManualClock();
    const { health, app } = await startApp();
    const shutdown = createShutdown({ health, servers: [app.server], signals: [], clock });
    track(shutdown, app);
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    cleanup.push(async () => agent.destroy());
    await get(`${app.url}/fast`, agent);
    const [socket] = Object.values(agent.freeSockets).flat();
    let closed = false;
    socket?.once('close', () => {
      closed = true;
    });
    const report = shutdown.shutdown();
    await flushMicrotasks();
    // Other requests finish meanwhile; the idle socket must survive them.
    await get(`${app.url}/fast`);
    await get(`${app.url}/livez`);
    await flushMicrotasks();
    expect(closed).toBe(false);
    const late = await get(`${app.url}/fast`, agent); // sent on the idle socket during the delay
    expect(late.body).toBe('fast');
    expect(late.headers.connection).toBe('close');
    await clock.advanceAsync(5000);
    expect((await report).ok).toBe(true);
  });

  it('cuts requests still in flight at drainTimeoutMs, reports it, and goes on', async () => {
    const clock = new ManualClock();
    const { health, app, slow } = await startApp();
    const hook = vi.fn();
    const shutdown = createShutdown({
      health,
      servers: [app.server],
      shutdownDelayMs: 0,
      drainTimeoutMs: 1000,
      hooks: [hook],
      signals: [],
      clock,
    });
    track(shutdown, app);
    const failed: ShutdownStepEvent[] = [];
    shutdown.onStep((event) => event.phase === 'failed' && failed.push(event));
    const stuck = get(`${app.url}/slow`).catch((error: unknown) => error);
    await vi.waitFor(() => expect(slow).toHaveLength(1));
    const report = shutdown.shutdown();
    await flushMicrotasks();
    await clock.advanceAsync(1000);
    const result = await report;
    expect(result.ok).toBe(false);
    expect(failed.map((e) => e.step)).toEqual(['drain']);
    const error = failed[0]?.errors[0];
    expect(isDiscoveryError(error, 'SHUTDOWN_STEP_FAILED') && error.step).toBe('drain');
    expect(error?.message).toMatch(/1 request\(s\) still in flight/);
    expect(await stuck).toMatchObject({ code: 'ECONNRESET' });
    expect(hook).toHaveBeenCalledTimes(1);
  });

  it('a failing or hanging step is reported and the sequence continues; from code it never exits', async () => {
    const clock = new ManualClock();
    const log: string[] = [];
    const exit = vi.fn();
    const shutdown = createShutdown({
      registrations: [fakeRegistration(log, true)],
      shutdownDelayMs: 0,
      hooksTimeoutMs: 500,
      hooks: [
        { name: 'hangs', run: () => new Promise(() => {}) },
        { name: 'after', run: () => void log.push('after') },
      ],
      exit,
      signals: [],
      clock,
    });
    cleanup.push(() => shutdown.close());
    const report = shutdown.shutdown();
    await flushMicrotasks();
    await clock.advanceAsync(500);
    const result = await report;
    const failed = result.steps.filter((s) => s.phase === 'failed');
    expect(failed.map((s) => s.step)).toEqual(['deregister', 'hooks']);
    expect(failed[0]?.errors[0]?.message).toMatch(
      /"deregister" \(orders-1\) failed: registry down/,
    );
    expect(failed[1]?.errors.map((e) => e.target)).toEqual(['hangs', 'after']);
    expect(exit).not.toHaveBeenCalled();
    expect(await shutdown.shutdown()).toBe(result); // idempotent
  });

  it('SIGINT starts it too; a second signal during the sequence neither restarts nor exits early', async () => {
    const clock = new ManualClock();
    const exit = vi.fn();
    const hook = vi.fn();
    const shutdown = createShutdown({ hooks: [hook], exit, clock });
    cleanup.push(() => shutdown.close());
    const steps: string[] = [];
    shutdown.onStep((event) => event.phase === 'started' && steps.push(event.step));
    process.emit('SIGINT');
    process.emit('SIGTERM');
    await flushMicrotasks();
    expect(steps).toEqual(['readiness', 'delay']);
    await clock.advanceAsync(5000);
    await vi.waitFor(() => expect(exit).toHaveBeenCalledWith(0));
    process.emit('SIGINT'); // after the end: no handler left
    expect(exit).toHaveBeenCalledTimes(1);
    expect(hook).toHaveBeenCalledTimes(1);
    expect(process.listenerCount('SIGINT')).toBe(0);
  });

  it('warns at creation when the budget cannot fit gracePeriodMs', () => {
    const onWarning = vi.fn();
    createShutdown({ signals: [], onWarning }).close();
    expect(onWarning).not.toHaveBeenCalled(); // defaults: 27 s in 30 s
    createShutdown({ signals: [], onWarning, drainTimeoutMs: 20_000 }).close();
    expect(onWarning).toHaveBeenCalledTimes(1);
    expect(onWarning.mock.calls[0]?.[0]).toMatch(/37000 ms .* gracePeriodMs 30000/);
  });

  it('follows a custom order and rejects bad options', async () => {
    const log: string[] = [];
    const shutdown = createShutdown({
      registrations: [fakeRegistration(log)],
      hooks: [() => void log.push('hook')],
      order: ['hooks', 'deregister'],
      signals: [],
    });
    cleanup.push(() => shutdown.close());
    const report = await shutdown.shutdown();
    expect(report.steps.map((s) => s.step)).toEqual(['readiness', 'hooks', 'deregister']);
    expect(log).toEqual(['markDraining', 'hook', 'deregister']);
    for (const [options, option] of [
      [{ order: ['drain', 'drain'] }, 'order'],
      [{ order: ['sleep'] }, 'order.0'],
      [{ shutdownDelayMs: -1 }, 'shutdownDelayMs'],
      [{ hooks: [42] }, 'hooks.0'],
      [{ signals: ['TERM'] }, 'signals.0'],
    ] as const) {
      try {
        createShutdown({ signals: [], ...(options as object) } as never);
        expect.unreachable(option);
      } catch (error) {
        expect(isDiscoveryError(error, 'INVALID_OPTIONS') && error.option).toBe(option);
      }
    }
  });
});
