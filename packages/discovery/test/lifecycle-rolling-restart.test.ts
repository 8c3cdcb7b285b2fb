import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import type {} from '@ballast/test-utils/global-setup';
import { request } from 'undici';
import { afterEach, describe, expect, inject, it, vi } from 'vitest';
import { redisRegistry } from '../src/index.ts';
import { discoveryDispatcher } from '../src/undici.ts';

const SERVICE_FILE = fileURLToPath(
  new URL('./fixtures/lifecycle/rolling-service.ts', import.meta.url),
);

interface Instance {
  readonly id: string;
  readonly child: ChildProcess;
  readonly ready: Promise<number>;
  /** `[gets, posts]` it served, from its last shutdown hook. */
  readonly served: Promise<[number, number]>;
  readonly exited: Promise<number | null>;
}

function startInstance(id: string, env: Record<string, string>): Instance {
  const child = spawn(process.execPath, [SERVICE_FILE], {
    env: { ...process.env, ...env, INSTANCE_ID: id },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  let onReady: (port: number) => void = () => {};
  let onServed: (served: [number, number]) => void = () => {};
  child.stdout?.setEncoding('utf8');
  child.stdout?.on('data', (chunk: string) => {
    out += chunk;
    const ready = /ready (\d+)/.exec(out);
    if (ready) onReady(Number(ready[1]));
    const served = /served (\d+) (\d+)/.exec(out);
    if (served) onServed([Number(served[1]), Number(served[2])]);
  });
  return {
    id,
    child,
    ready: new Promise((resolve) => (onReady = resolve)),
    served: new Promise((resolve) => (onServed = resolve)),
    exited: new Promise((resolve) => child.once('exit', (code) => resolve(code))),
  };
}

const children: ChildProcess[] = [];
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe('rolling restart under load', () => {
  it('three instances behind the discovery dispatcher, each SIGTERMed in turn and restarted: 0 failed requests, no POST served twice', async () => {
    const prefix = `lifecycle-rolling:${randomUUID()}:`;
    const service = 'shop-orders';
    const env = { REDIS_URL: inject('redisUrl'), PREFIX: prefix, SERVICE: service };
    const registry = redisRegistry({ url: inject('redisUrl'), prefix });
    const dispatcher = discoveryDispatcher({ registry });
    cleanups.push(
      () => registry.close(),
      () => dispatcher.close(),
    );

    let generation = 0;
    const launch = async (): Promise<Instance> => {
      const instance = startInstance(`i${++generation}`, env);
      children.push(instance.child);
      await instance.ready;
      // In rotation for the clients before the next one goes.
      await vi.waitFor(
        () => {
          const listed = dispatcher.resolver(service).instances();
          expect(listed.some((i) => i.id === instance.id && i.healthy)).toBe(true);
        },
        { timeout: 10_000, interval: 20 },
      );
      return instance;
    };
    let running = await Promise.all([launch(), launch(), launch()]);

    // Bounded load: 6 workers, alternating idempotent GETs and non-idempotent POSTs, until the
    // restarts are over (and at most 20 s).
    const failures: string[] = [];
    const served = new Map<string, number>();
    let gets = 0;
    let posts = 0;
    let stop = false;
    const deadline = Date.now() + 20_000;
    const worker = async (w: number) => {
      for (let n = 0; !stop && Date.now() < deadline; n++) {
        const post = n % 2 === 1;
        try {
          const res = await request(`http://${service}${post ? '/order' : '/item'}`, {
            dispatcher,
            method: post ? 'POST' : 'GET',
            body: post ? `w${w}-${n}` : undefined,
          });
          const body = (await res.body.json()) as { instance: string };
          if (res.statusCode !== (post ? 201 : 200))
            failures.push(`${res.statusCode} ${post ? 'POST' : 'GET'}`);
          else {
            served.set(body.instance, (served.get(body.instance) ?? 0) + 1);
            if (post) posts++;
            else gets++;
          }
        } catch (error) {
          failures.push(
            `${post ? 'POST' : 'GET'}: ${(error as Error).message} ${(error as { code?: string }).code ?? ''}`,
          );
        }
      }
    };
    const load = Promise.all([0, 1, 2, 3, 4, 5].map(worker));

    const counts: [number, number][] = [];
    for (let i = 0; i < 3; i++) {
      await new Promise((resolve) => setTimeout(resolve, 300)); // traffic on every instance
      const [old, ...rest] = running;
      old?.child.kill('SIGTERM');
      const replacement = launch();
      expect(await old?.exited).toBe(0);
      counts.push(await (old as Instance).served);
      running = [...rest, await replacement];
    }
    await new Promise((resolve) => setTimeout(resolve, 300));
    stop = true;
    await load;
    for (const instance of running) {
      instance.child.kill('SIGTERM');
      counts.push(await instance.served);
      expect(await instance.exited).toBe(0);
    }

    expect(failures).toEqual([]);
    expect(gets + posts).toBeGreaterThan(200);
    // Every POST was served exactly once: none was sent twice, none was lost.
    expect(counts.reduce((sum, [, p]) => sum + p, 0)).toBe(posts);
    expect(counts.reduce((sum, [g]) => sum + g, 0)).toBeGreaterThanOrEqual(gets);
    // All six instances took traffic.
    expect([...served.keys()].sort()).toEqual(['i1', 'i2', 'i3', 'i4', 'i5', 'i6']);
  }, 60_000);
});
