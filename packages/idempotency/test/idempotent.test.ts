import { ManualClock } from '@ballast/test-utils';
import { describe, expect, it } from 'vitest';
import {
  type IdempotencyEvent,
  type IdempotencyEvents,
  type IdempotencyStore,
  idempotent,
  isIdempotencyError,
  memoryStore,
} from '../src/index.ts';
import { gate } from './support/redis.ts';

function setup(options: { lockTtlMs?: number; waitForInFlightMs?: number } = {}) {
  const clock = new ManualClock(1_000);
  const store = memoryStore({ clock });
  const events: IdempotencyEvent[] = [];
  return {
    clock,
    store,
    events,
    base: { store, clock, ...options },
    /** Subscribes `events` to `fn`'s events, and returns `fn`. */
    watch: <F extends IdempotencyEvents>(fn: F): F => {
      fn.onEvent((e) => events.push(e));
      return fn;
    },
  };
}

const code = (promise: Promise<unknown>) =>
  promise.then(
    () => 'resolved',
    (error: unknown) => (isIdempotencyError(error) ? error.code : String(error)),
  );

describe('idempotent()', () => {
  it('runs once per key and returns the stored result to later calls', async () => {
    const { base, events, watch } = setup();
    let runs = 0;
    const charge = watch(
      idempotent(
        async (msg: { id: string; amount: number }) => ({ charged: msg.amount, run: ++runs }),
        { ...base, key: (msg) => msg.id },
      ),
    );
    expect(await charge({ id: 'm1', amount: 5 })).toEqual({ charged: 5, run: 1 });
    expect(await charge({ id: 'm1', amount: 5 })).toEqual({ charged: 5, run: 1 });
    expect(await charge({ id: 'm2', amount: 5 })).toEqual({ charged: 5, run: 2 });
    expect(events.map((e) => e.type)).toEqual(['executed', 'replayed', 'executed']);
  });

  it('rejects the same key with different arguments (IDEMPOTENCY_KEY_REUSED)', async () => {
    const { base } = setup();
    const fn = idempotent(async (_id: string, amount: number) => amount, {
      ...base,
      key: (id) => id,
    });
    await fn('k', 1);
    expect(await code(fn('k', 2))).toBe('IDEMPOTENCY_KEY_REUSED');
  });

  it('uses the fingerprint option to decide what "the same call" is', async () => {
    const { base } = setup();
    const fn = idempotent(async (msg: { id: string; amount: number; at: number }) => msg.amount, {
      ...base,
      key: (msg) => msg.id,
      fingerprint: (msg) => msg.amount,
    });
    await fn({ id: 'k', amount: 1, at: 1 });
    expect(await fn({ id: 'k', amount: 1, at: 2 })).toBe(1);
    expect(await code(fn({ id: 'k', amount: 2, at: 3 }))).toBe('IDEMPOTENCY_KEY_REUSED');
  });

  it('refuses a duplicate while the first call runs (IDEMPOTENCY_KEY_IN_PROGRESS)', async () => {
    const { base } = setup();
    const hold = gate();
    const fn = idempotent(async (_id: string) => hold.promise.then(() => 'ok'), {
      ...base,
      key: (id) => id,
    });
    const first = fn('k');
    expect(await code(fn('k'))).toBe('IDEMPOTENCY_KEY_IN_PROGRESS');
    hold.open();
    expect(await first).toBe('ok');
  });

  it('waits for the first call and returns its result when waitForInFlightMs is set, within the bound', async () => {
    const { base, clock } = setup({ waitForInFlightMs: 1_000 });
    const hold = gate();
    let runs = 0;
    const fn = idempotent(
      async (_id: string) => {
        runs++;
        await hold.promise;
        return 'ok';
      },
      { ...base, pollIntervalMs: 50, key: (id) => id },
    );
    const first = fn('k');
    const waiting = fn('k');
    await clock.advanceAsync(200);
    hold.open();
    await clock.advanceAsync(50);
    expect(await first).toBe('ok');
    expect(await waiting).toBe('ok');
    expect(runs).toBe(1);

    const hold2 = gate();
    const slow = idempotent(async (_id: string) => hold2.promise, {
      ...base,
      pollIntervalMs: 50,
      key: (id) => id,
    });
    const running = slow('j');
    const timedOut = code(slow('j'));
    await clock.advanceAsync(1_000);
    expect(await timedOut).toBe('IDEMPOTENCY_KEY_IN_PROGRESS');
    hold2.open();
    await running;
  });

  it('releases the key when the function throws, so the redelivery runs again', async () => {
    const { base, events, watch } = setup();
    let runs = 0;
    const fn = watch(
      idempotent(
        async (_id: string) => {
          if (++runs === 1) throw new Error('transient');
          return runs;
        },
        { ...base, key: (id) => id },
      ),
    );
    await expect(fn('k')).rejects.toThrow('transient');
    expect(await fn('k')).toBe(2);
    expect(events).toContainEqual(
      expect.objectContaining({ type: 'not-stored', reason: 'thrown' }),
    );
  });

  it('stores undefined and custom encodings', async () => {
    const { base } = setup();
    let runs = 0;
    const nothing = idempotent(
      async (_id: string) => {
        runs++;
      },
      { ...base, key: (id) => `u:${id}` },
    );
    await nothing('k');
    expect(await nothing('k')).toBeUndefined();
    expect(runs).toBe(1);
    const dates = idempotent(async (_id: string) => new Date(5), {
      ...base,
      key: (id) => `d:${id}`,
      encode: (d) => String(d.getTime()),
      decode: (p) => new Date(Number(Buffer.from(p).toString())),
    });
    await dates('k');
    expect((await dates('k')).getTime()).toBe(5);
  });

  it('isolates scopes', async () => {
    const { base } = setup();
    let runs = 0;
    const fn = idempotent(async (_tenant: string, _id: string) => ++runs, {
      ...base,
      key: (_tenant, id) => id,
      scope: (tenant) => tenant,
      fingerprint: (_tenant, id) => id,
    });
    expect(await fn('a', 'k')).toBe(1);
    expect(await fn('b', 'k')).toBe(2);
    expect(await fn('a', 'k')).toBe(1);
  });

  it('rejects a call without a key (IDEMPOTENCY_KEY_MISSING)', async () => {
    const { base } = setup();
    const fn = idempotent(async (_id: string) => 1, { ...base, key: () => '' });
    expect(await code(fn('x'))).toBe('IDEMPOTENCY_KEY_MISSING');
  });

  it('fails closed when the store is down, or runs the function when failOpen is set', async () => {
    const down: IdempotencyStore = {
      claim: () => Promise.reject(new Error('ECONNREFUSED')),
      extend: () => Promise.resolve(false),
      complete: () => Promise.resolve(false),
      release: () => Promise.resolve(false),
    };
    const events: IdempotencyEvent[] = [];
    const closed = idempotent(async (_id: string) => 1, { store: down, key: (id) => id });
    expect(await code(closed('k'))).toBe('STORE_UNAVAILABLE');
    const open = idempotent(async (_id: string) => 1, {
      store: down,
      key: (id) => id,
      failOpen: true,
    });
    open.onEvent((e) => events.push(e));
    expect(await open('k')).toBe(1);
    expect(events.map((e) => e.type)).toEqual(['store-error', 'fail-open']);
  });
});

describe('onEvent', () => {
  it('returns a Subscription; dispose() stops it; a bad listener is INVALID_OPTIONS', async () => {
    const fn = idempotent(async (id: string) => id, { store: memoryStore(), key: (id) => id });
    const seen: string[] = [];
    const subscription = fn.onEvent((e) => seen.push(e.type));
    await fn('a');
    await fn('a');
    subscription.dispose();
    subscription.dispose(); // idempotent
    await fn('b');
    expect(seen).toEqual(['executed', 'replayed']);
    {
      using _scoped = fn.onEvent((e) => seen.push(`scoped ${e.type}`));
      await fn('b');
    }
    await fn('b');
    expect(seen).toEqual(['executed', 'replayed', 'scoped replayed']);
    const error = (() => {
      try {
        fn.onEvent('nope' as never);
      } catch (e) {
        return e;
      }
    })();
    expect(isIdempotencyError(error, 'INVALID_OPTIONS') && error.option).toBe('listener');
  });

  it('a throwing listener is rethrown on a microtask, never swallowed, and the call is unaffected', async () => {
    const fn = idempotent(async (id: string) => `done ${id}`, {
      store: memoryStore(),
      key: (id) => id,
    });
    const after: string[] = [];
    fn.onEvent(() => {
      throw new Error('listener bug');
    });
    fn.onEvent((e) => after.push(e.type));
    const original = globalThis.queueMicrotask;
    const rethrown: unknown[] = [];
    globalThis.queueMicrotask = (task) => {
      try {
        task();
      } catch (error) {
        rethrown.push(error);
      }
    };
    try {
      expect(await fn('a')).toBe('done a');
    } finally {
      globalThis.queueMicrotask = original;
    }
    expect(after).toEqual(['executed']);
    expect(rethrown).toEqual([expect.objectContaining({ message: 'listener bug' })]);
  });

  it('refuses the removed onEvent option, naming the method that replaces it', () => {
    const error = (() => {
      try {
        idempotent(async () => 1, {
          store: memoryStore(),
          key: () => 'k',
          onEvent: () => {},
        } as never);
      } catch (e) {
        return e;
      }
    })();
    expect(isIdempotencyError(error, 'INVALID_OPTIONS') && error.option).toBe('onEvent');
    expect((error as Error).message).toContain('.onEvent(listener)');
  });
});

describe('lock extension and expiry (ManualClock)', () => {
  it('extends the lock while a long call runs, and stops extending when it ends', async () => {
    const { base, clock } = setup({ lockTtlMs: 300 });
    const hold = gate();
    const fn = idempotent(async (_id: string) => hold.promise.then(() => 'ok'), {
      ...base,
      key: (id) => id,
    });
    const first = fn('k');
    await clock.advanceAsync(1_000); // more than three lock lifetimes
    expect(await code(fn('k'))).toBe('IDEMPOTENCY_KEY_IN_PROGRESS');
    hold.open();
    expect(await first).toBe('ok');
    // The wheel's one timer disarms at its next tick once no lease is held.
    await clock.advanceAsync(300);
    expect(clock.pending).toBe(0);
  });

  it('arms no timer for a call that ends before its lock needs extending', async () => {
    const { base, clock, store } = setup({ lockTtlMs: 600 });
    let extensions = 0;
    const counting: IdempotencyStore = {
      claim: (input) => store.claim(input),
      complete: (input) => store.complete(input),
      release: (input) => store.release(input),
      extend: (input) => {
        extensions++;
        return store.extend(input);
      },
    };
    const fn = idempotent(async (id: string) => id, { ...base, store: counting, key: (id) => id });
    // Sequential calls, each well inside the lock TTL: one shared wheel timer, no extension.
    for (let i = 0; i < 20; i++) {
      await fn(`k${i}`);
      await clock.advanceAsync(10);
    }
    expect(clock.pending).toBeLessThanOrEqual(1);
    expect(extensions).toBe(0);
    await clock.advanceAsync(600);
    expect(clock.pending).toBe(0);
  });

  it('after a crash the lock expires and exactly one retry runs', async () => {
    const { base, clock, store } = setup({ lockTtlMs: 300 });
    let runs = 0;
    const fn = idempotent(async (_id: string) => ++runs, { ...base, key: (id) => id });
    // A worker that crashed mid-call: it claimed the key and then stopped extending it.
    const crashed = idempotent((_id: string) => new Promise<number>(() => {}), {
      ...base,
      clock: new ManualClock(1_000),
      key: () => 'k',
    });
    void crashed('k');
    await clock.advanceAsync(0);
    expect(await code(fn('k'))).toBe('IDEMPOTENCY_KEY_IN_PROGRESS');
    await clock.advanceAsync(300);
    const retries = await Promise.all(Array.from({ length: 5 }, () => code(fn('k'))));
    expect(retries.filter((r) => r === 'resolved')).toHaveLength(1);
    expect(runs).toBe(1);
    expect(await fn('k')).toBe(1);
    expect(store.size).toBe(1);
  });

  it('reports a lost lock and aborts the lease signal; the late result is not stored', async () => {
    const { clock, events } = setup({ lockTtlMs: 300 });
    const store = memoryStore({ clock });
    let runs = 0;
    const hold = gate();
    // A store whose records can vanish (as when Redis is flushed): then extensions and
    // completions find no lock of theirs.
    let flushed = false;
    const flushable: IdempotencyStore = {
      claim: (input) => store.claim(input),
      extend: (input) => (flushed ? Promise.resolve(false) : store.extend(input)),
      complete: (input) => (flushed ? Promise.resolve(false) : store.complete(input)),
      release: (input) => store.release(input),
    };
    const fn = idempotent(
      async (_id: string) => {
        runs++;
        await hold.promise;
        return runs;
      },
      { store: flushable, clock, lockTtlMs: 300, key: (id) => id },
    );
    fn.onEvent((e) => events.push(e));
    const first = fn('k');
    await clock.advanceAsync(0);
    flushed = true; // the record vanishes: the next extension fails
    await clock.advanceAsync(100);
    expect(events.map((e) => e.type)).toContain('lock-lost');
    hold.open();
    expect(await first).toBe(1);
    expect(events.at(-1)).toMatchObject({ type: 'not-stored', reason: 'lock-lost' });
  });
});

describe('results that cannot be stored, scopes and signals', () => {
  it.each([
    ['a BigInt', () => ({ amount: 10n })],
    [
      'a circular value',
      () => {
        const value: Record<string, unknown> = {};
        value.self = value;
        return value;
      },
    ],
  ])('rejects with RESULT_NOT_ENCODABLE for %s and releases the key', async (_what, make) => {
    const { base, events, watch } = setup();
    let runs = 0;
    const fn = watch(
      idempotent(
        async (_id: string) => {
          runs++;
          return make();
        },
        { ...base, key: (id) => id },
      ),
    );
    const error = await fn('k').catch((e: unknown) => e);
    expect(isIdempotencyError(error, 'RESULT_NOT_ENCODABLE')).toBe(true);
    expect((error as Error).cause).toBeInstanceOf(TypeError);
    expect(events).toContainEqual(
      expect.objectContaining({ type: 'not-stored', reason: 'not-encodable' }),
    );
    // Not locked for ever: the retry runs again (and fails the same way).
    expect(await code(fn('k'))).toBe('RESULT_NOT_ENCODABLE');
    expect(runs).toBe(2);
  });

  it('refuses a call whose configured scope returns nothing (SCOPE_MISSING)', async () => {
    const { base, events, watch } = setup();
    let runs = 0;
    const fn = watch(
      idempotent(async (_tenant: string | undefined, _id: string) => ++runs, {
        ...base,
        key: (_tenant, id) => id,
        scope: (tenant) => tenant,
      }),
    );
    expect(await fn('a', 'k')).toBe(1);
    expect(await code(fn(undefined, 'k'))).toBe('SCOPE_MISSING');
    expect(await code(fn('', 'k'))).toBe('SCOPE_MISSING');
    expect(runs).toBe(1);
    expect(events).toContainEqual({ type: 'rejected', key: 'k', reason: 'scope-missing' });
  });

  it('a signal ends a wait for the first call and refuses new calls (ABORTED)', async () => {
    const { base, clock } = setup({ waitForInFlightMs: 10_000 });
    const controller = new AbortController();
    const hold = gate();
    const fn = idempotent(async (_id: string) => hold.promise.then(() => 'ok'), {
      ...base,
      key: (id) => id,
      signal: controller.signal,
    });
    const first = fn('k');
    const waiting = code(fn('k'));
    await clock.advanceAsync(100);
    controller.abort(new Error('shutting down'));
    expect(await waiting).toBe('ABORTED');
    expect(await code(fn('j'))).toBe('ABORTED');
    hold.open();
    expect(await first).toBe('ok');
  });

  it('a function that throws synchronously releases the key like a rejection', async () => {
    const { base } = setup();
    let runs = 0;
    const fn = idempotent(
      (_id: string): number => {
        if (++runs === 1) throw new Error('sync');
        return runs;
      },
      { ...base, key: (id) => id },
    );
    await expect(fn('k')).rejects.toThrow('sync');
    expect(await fn('k')).toBe(2);
  });
});
