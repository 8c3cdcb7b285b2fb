import { createServer } from 'node:http';
import { request, fetch as undiciFetch } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import {
  isDiscoveryError,
  p2cPeakEwma,
  type Registry,
  roundRobin,
  staticRegistry,
} from '../src/index.ts';
import { type DiscoveryDispatcherOptions, discoveryDispatcher } from '../src/undici.ts';
import { ManualRegistry } from './support/manual-registry.ts';
import { type Behaviour, startInstance, type TestInstance } from './support/servers.ts';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function fleet(behaviours: Behaviour[]): Promise<TestInstance[]> {
  const instances = await Promise.all(behaviours.map((b, i) => startInstance(`i${i}`, b)));
  cleanups.push(() => Promise.all(instances.map((instance) => instance.kill())));
  return instances;
}

function registryOf(instances: TestInstance[]): Registry {
  return staticRegistry(
    instances.map((instance) => ({
      id: instance.name,
      service: 'orders',
      address: '127.0.0.1',
      port: instance.port,
    })),
  );
}

function dispatcherFor(registry: Registry, options: Partial<DiscoveryDispatcherOptions> = {}) {
  const dispatcher = discoveryDispatcher({ registry, balancer: roundRobin(), ...options });
  cleanups.push(() => dispatcher.close());
  return dispatcher;
}

async function get(
  dispatcher: ReturnType<typeof discoveryDispatcher>,
  path = '/api/orders/7',
  method = 'GET',
) {
  const response = await request(`http://orders${path}`, { dispatcher, method: method as 'GET' });
  return { status: response.statusCode, body: await response.body.text() };
}

describe('discoveryDispatcher', () => {
  it('sends request() by service name to the balanced instances', async () => {
    const instances = await fleet([{ kind: 'ok' }, { kind: 'ok' }, { kind: 'ok' }]);
    const dispatcher = dispatcherFor(registryOf(instances));
    const bodies = [];
    for (let i = 0; i < 6; i++) bodies.push((await get(dispatcher)).body);
    expect(bodies.sort()).toEqual(['i0', 'i0', 'i1', 'i1', 'i2', 'i2']);
    expect(instances[0]!.received[0]).toBe('GET /api/orders/7');
  });

  it("works with undici's fetch and Node's built-in fetch", async () => {
    const instances = await fleet([{ kind: 'ok' }]);
    const dispatcher = dispatcherFor(registryOf(instances));
    const viaUndici = await undiciFetch('http://orders/a', { dispatcher });
    expect(await viaUndici.text()).toBe('i0');
    const viaNode = await fetch('http://orders/b', { dispatcher } as RequestInit);
    expect(viaNode.status).toBe(200);
    expect(await viaNode.text()).toBe('i0');
    expect(instances[0]!.received).toEqual(['GET /a', 'GET /b']);
  });

  it('answers SERVICE_NOT_FOUND at once for an unknown service', async () => {
    const instances = await fleet([{ kind: 'ok' }]);
    const dispatcher = dispatcherFor(registryOf(instances));
    await expect(request('http://payments/x', { dispatcher })).rejects.toSatisfy(
      (e) => isDiscoveryError(e, 'SERVICE_NOT_FOUND') && e.service === 'payments',
    );
  });

  it('answers NO_INSTANCE_AVAILABLE, not a raw ECONNREFUSED, when no instance accepts connections', async () => {
    const instances = await fleet([{ kind: 'ok' }, { kind: 'ok' }]);
    const registry = registryOf(instances);
    await Promise.all(instances.map((instance) => instance.kill()));
    const dispatcher = dispatcherFor(registry);
    const error = await request('http://orders/x', { dispatcher }).catch((e: unknown) => e);
    expect(isDiscoveryError(error, 'NO_INSTANCE_AVAILABLE')).toBe(true);
    expect((error as { retryAfterMs: number }).retryAfterMs).toBeGreaterThan(0);
    expect((error as Error).cause).toMatchObject({ code: 'ECONNREFUSED' });
  });

  it('reaches an instance again as soon as it comes back after an outage', async () => {
    const instances = await fleet([{ kind: 'ok' }]);
    const port = instances[0]!.port;
    const dispatcher = dispatcherFor(registryOf(instances));
    expect((await get(dispatcher)).body).toBe('i0');
    await instances[0]!.kill();
    // Down: every request fails at once, enough of them to eject the only instance.
    for (let i = 0; i < 6; i++) {
      const error = await get(dispatcher).catch((e: unknown) => e);
      expect(isDiscoveryError(error, 'NO_INSTANCE_AVAILABLE')).toBe(true);
    }
    // Back on the same port: panic mode (no healthy instance left) still tries it, so the very
    // next request gets through — no waiting for the 30 s ejection to end.
    const revived = createServer((_req, res) => res.end('revived'));
    await new Promise<void>((resolve) => revived.listen(port, '127.0.0.1', resolve));
    cleanups.push(() => new Promise((resolve) => revived.close(resolve)));
    expect(await get(dispatcher)).toEqual({ status: 200, body: 'revived' });
    revived.closeAllConnections();
  });

  it('retries an idempotent request that got a 503 once, on another instance', async () => {
    const instances = await fleet([{ kind: 'status', status: 503 }, { kind: 'ok' }]);
    const dispatcher = dispatcherFor(registryOf(instances));
    for (let i = 0; i < 4; i++) expect(await get(dispatcher)).toEqual({ status: 200, body: 'i1' });
    expect(instances[0]!.received.length).toBeGreaterThan(0);
  });

  it('retries a request with an Idempotency-Key like an idempotent one', async () => {
    const instances = await fleet([
      { kind: 'status', status: 503 },
      { kind: 'status', status: 503 },
      { kind: 'ok' },
    ]);
    const dispatcher = dispatcherFor(registryOf(instances), { retries: 1 });
    const response = await request('http://orders/pay', {
      dispatcher,
      method: 'POST',
      body: '{}',
      headers: { 'idempotency-key': 'k1' },
    });
    await response.body.text();
    // i0 answers 503, the one retry goes to i1 (round robin), which answers 503 too: no third try.
    expect(response.statusCode).toBe(503);
    expect(instances.map((i) => i.received.length)).toEqual([1, 1, 0]);
  });

  it('isFailure: a 503 it excludes is an answer — not retried elsewhere, not held against the instance', async () => {
    const instances = await fleet([{ kind: 'status', status: 503 }, { kind: 'ok' }]);
    const seen: [number, string][] = [];
    const dispatcher = dispatcherFor(registryOf(instances), {
      ejection: { consecutiveFailures: 2 },
      isFailure: (status, service) => {
        seen.push([status, service]);
        return status >= 500 && !(service === 'orders' && status === 503);
      },
    });
    const answers = [];
    for (let i = 0; i < 6; i++) answers.push(await get(dispatcher));
    // round robin: every other request reaches i0, whose 503 is passed on as it is
    expect(answers.filter((a) => a.status === 503)).toHaveLength(3);
    expect(instances[0]!.received).toHaveLength(3);
    expect(seen).toContainEqual([503, 'orders']);
    const i0 = dispatcher.resolver('orders').endpoints()[0]!;
    expect(i0.ejected).toBe(false);
  });

  it('isFailure that throws: the default rule decides, and one process warning says so', async () => {
    const instances = await fleet([{ kind: 'status', status: 500 }, { kind: 'ok' }]);
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on('warning', onWarning);
    cleanups.push(async () => void process.off('warning', onWarning));
    const dispatcher = dispatcherFor(registryOf(instances), {
      ejection: { consecutiveFailures: 2 },
      isFailure: () => {
        throw new Error('bug in the predicate');
      },
    });
    const answers = [];
    for (let i = 0; i < 4; i++) answers.push(await get(dispatcher));
    expect(answers.filter((a) => a.status === 500)).toHaveLength(2);
    await new Promise((resolve) => setImmediate(resolve)); // warnings are emitted on next tick
    const ours = warnings.filter(
      (w) => (w as { code?: string }).code === 'BALLAST_DISCOVERY_IS_FAILURE',
    );
    expect(ours).toHaveLength(1);
    expect(ours[0]!.message).toContain('bug in the predicate');
    // the default rule held the 500s against i0: two in a row ejected it
    expect(dispatcher.resolver('orders').endpoints()[0]!.ejected).toBe(true);
  });

  it('never sends a non-idempotent request twice: a POST gets the 503', async () => {
    const instances = await fleet([{ kind: 'status', status: 503 }, { kind: 'ok' }]);
    const dispatcher = dispatcherFor(registryOf(instances));
    const response = await request('http://orders/orders', {
      dispatcher,
      method: 'POST',
      body: '{}',
    });
    await response.body.text();
    expect(response.statusCode).toBe(503);
    expect(instances[0]!.received).toEqual(['POST /orders']);
    expect(instances[1]!.received).toEqual([]);
  });

  it('retries GETs in flight on an instance that is killed, and fails a POST in flight exactly once', async () => {
    const instances = await fleet([{ kind: 'hang' }, { kind: 'ok' }]);
    const dispatcher = dispatcherFor(registryOf(instances));
    const getInFlight = get(dispatcher, '/get'); // round robin: i0, which hangs
    const postInFlight = request('http://orders/post', {
      dispatcher,
      method: 'POST',
      body: 'x',
    }).then(
      (r) => r.body.text().then(() => r.statusCode),
      (e: unknown) => e,
    );
    // i1 takes the POST: wait until i0 holds the GET, then send another POST to i0.
    await expect.poll(() => instances[0]!.pending.size).toBe(1);
    const postToKilled = request('http://orders/post2', {
      dispatcher,
      method: 'POST',
      body: 'x',
    }).then(
      (r) => r.statusCode,
      (e: unknown) => e,
    );
    await expect.poll(() => instances[0]!.pending.size).toBe(2);
    await instances[0]!.kill();
    expect(await getInFlight).toEqual({ status: 200, body: 'i1' });
    expect(await postInFlight).toBe(200);
    const error = await postToKilled;
    expect(error).toBeInstanceOf(Error);
    expect(isDiscoveryError(error)).toBe(false); // the real transport error, not a retry
    expect(instances[0]!.received).toEqual(['GET /get', 'POST /post2']);
    expect(instances[1]!.received.filter((r) => r.startsWith('POST /post2'))).toEqual([]);
  });

  it('loses no idempotent request when one of five instances dies mid-run, and ejects it', async () => {
    const instances = await fleet(Array.from({ length: 5 }, () => ({ kind: 'ok' }) as Behaviour));
    const registry = registryOf(instances);
    const dispatcher = dispatcherFor(registry, { balancer: p2cPeakEwma() });
    const failures: unknown[] = [];
    const run = async (count: number) => {
      await Promise.all(
        Array.from({ length: count }, () =>
          get(dispatcher).catch((e: unknown) => failures.push(e)),
        ),
      );
    };
    await run(50);
    await instances[2]!.kill();
    await run(200);
    expect(failures).toEqual([]);
    // p2c may stop sending to it before 5 failures; if anything is ejected, it is the dead one.
    const ejected = dispatcher
      .resolver('orders')
      .endpoints()
      .filter((e) => e.ejected);
    for (const endpoint of ejected) expect(endpoint.instance.id).toBe('i2');
  });

  it('routes around a slow instance with p2cPeakEwma', async () => {
    const instances = await fleet([
      { kind: 'slow', delayMs: 1 },
      { kind: 'slow', delayMs: 1 },
      { kind: 'slow', delayMs: 1 },
      { kind: 'slow', delayMs: 200 },
    ]);
    const dispatcher = dispatcherFor(registryOf(instances), { balancer: p2cPeakEwma() });
    const rounds = async (n: number) => {
      for (let round = 0; round < n; round++) {
        await Promise.all(Array.from({ length: 4 }, () => get(dispatcher)));
      }
    };
    await rounds(10); // every instance answers at least once
    const before = instances[3]!.received.length;
    await rounds(40);
    // Round robin would send it 40 of these 160 requests.
    expect(instances[3]!.received.length - before).toBeLessThan(10);
  });

  it('serves from the last known good list while the registry is down', async () => {
    const instances = await fleet([{ kind: 'ok' }, { kind: 'ok' }]);
    const registry = new ManualRegistry();
    const dispatcher = dispatcherFor(registry);
    const first = get(dispatcher);
    registry.push(
      'orders',
      instances.map((i) => ({ id: i.name, port: i.port })),
    );
    expect((await first).status).toBe(200);
    registry.fail('ECONNREFUSED 127.0.0.1:6379');
    expect(dispatcher.resolver('orders').status().state).toBe('stale');
    const bodies = [(await get(dispatcher)).body, (await get(dispatcher)).body];
    expect(bodies.sort()).toEqual(['i0', 'i1']);
  });

  it('sends traffic to an instance as soon as it appears, and closes the pool of one that leaves', async () => {
    const instances = await fleet([{ kind: 'ok' }, { kind: 'ok' }]);
    const registry = new ManualRegistry();
    const dispatcher = dispatcherFor(registry);
    const first = get(dispatcher);
    registry.push('orders', [{ id: 'i0', port: instances[0]!.port }]);
    expect((await first).body).toBe('i0');
    registry.push('orders', [
      { id: 'i0', port: instances[0]!.port },
      { id: 'i1', port: instances[1]!.port },
    ]);
    const bodies = [(await get(dispatcher)).body, (await get(dispatcher)).body];
    expect(bodies.sort()).toEqual(['i0', 'i1']);
    const connections = () =>
      new Promise<number>((resolve) =>
        instances[0]!.server.server.getConnections((_, n) => resolve(n)),
      );
    expect(await connections()).toBeGreaterThan(0);
    registry.push('orders', [{ id: 'i1', port: instances[1]!.port }]);
    // The pool of i0 is closed: its keep-alive connection goes away.
    await expect.poll(connections).toBe(0);
    expect((await get(dispatcher)).body).toBe('i1');
  });

  it('fails the first request with REGISTRY_UNAVAILABLE when the registry is down from the start', async () => {
    const registry = new ManualRegistry();
    const dispatcher = dispatcherFor(registry);
    const pending = request('http://orders/x', { dispatcher }).catch((e: unknown) => e);
    await new Promise((resolve) => setImmediate(resolve));
    registry.fail();
    expect(isDiscoveryError(await pending, 'REGISTRY_UNAVAILABLE')).toBe(true);
  });

  it('composes with undici interceptors (they see the service origin)', async () => {
    const instances = await fleet([{ kind: 'ok' }]);
    const origins: string[] = [];
    const dispatcher = dispatcherFor(registryOf(instances)).compose(
      (dispatch) => (options, handler) => {
        origins.push(String(options.origin));
        return dispatch(
          { ...options, headers: { ...(options.headers as object), 'x-test': 'tagged' } },
          handler,
        );
      },
    );
    const response = await request('http://orders/x', { dispatcher });
    await response.body.text();
    expect(origins).toEqual(['http://orders']);
    expect(instances[0]!.received).toEqual(['GET /x tagged']);
  });

  it('passes an abort on to the instance and counts it as cancelled', async () => {
    const instances = await fleet([{ kind: 'hang' }]);
    const dispatcher = dispatcherFor(registryOf(instances));
    const controller = new AbortController();
    const pending = request('http://orders/x', { dispatcher, signal: controller.signal }).catch(
      (e: unknown) => e,
    );
    await expect.poll(() => instances[0]!.pending.size).toBe(1);
    controller.abort();
    expect(await pending).toMatchObject({ name: 'AbortError' });
    const endpoint = dispatcher.resolver('orders').endpoints()[0]!;
    expect(endpoint.outstanding).toBe(0);
    expect(endpoint.ejected).toBe(false);
  });

  it('refuses bad options with INVALID_OPTIONS naming the option', () => {
    const registry = staticRegistry();
    for (const [options, option] of [
      [{}, 'registry'],
      [{ registry, retries: -1 }, 'retries'],
      [{ registry, maxStaleMs: 'x' }, 'maxStaleMs'],
      [{ registry, ejection: { baseEjectionMs: -5 } }, 'ejection.baseEjectionMs'],
      [{ registry, balancr: roundRobin() }, 'balancr'],
      [{ registry, isFailure: 503 }, 'isFailure'],
    ] as const) {
      try {
        discoveryDispatcher(options as never);
        expect.unreachable();
      } catch (error) {
        expect(isDiscoveryError(error, 'INVALID_OPTIONS') && error.option).toBe(option);
      }
    }
  });
});
