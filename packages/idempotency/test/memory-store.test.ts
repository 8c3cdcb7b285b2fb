import { ManualClock } from '@ballast/test-utils';
import { describe, expect, it } from 'vitest';
import { isIdempotencyError, memoryStore } from '../src/index.ts';

const payload = Buffer.from('done');

describe('memoryStore()', () => {
  it('claims, reports locked and mismatch, completes and replays', async () => {
    const store = memoryStore({ clock: new ManualClock() });
    expect(await store.claim({ key: 'k', fingerprint: 'f', owner: 'a', lockTtlMs: 100 })).toEqual({
      state: 'claimed',
    });
    expect(await store.claim({ key: 'k', fingerprint: 'f', owner: 'b', lockTtlMs: 100 })).toEqual({
      state: 'locked',
    });
    expect(await store.claim({ key: 'k', fingerprint: 'g', owner: 'b', lockTtlMs: 100 })).toEqual({
      state: 'mismatch',
    });
    expect(
      await store.complete({ key: 'k', owner: 'a', fingerprint: 'f', payload, retentionMs: 1000 }),
    ).toBe(true);
    const replay = await store.claim({ key: 'k', fingerprint: 'f', owner: 'c', lockTtlMs: 100 });
    expect(replay.state === 'completed' && Buffer.from(replay.payload).toString()).toBe('done');
  });

  it('expires a lock after lockTtlMs and a completed record after retentionMs', async () => {
    const clock = new ManualClock();
    const store = memoryStore({ clock });
    await store.claim({ key: 'k', fingerprint: 'f', owner: 'a', lockTtlMs: 100 });
    clock.advance(99);
    expect(
      (await store.claim({ key: 'k', fingerprint: 'f', owner: 'b', lockTtlMs: 100 })).state,
    ).toBe('locked');
    clock.advance(1);
    expect(
      (await store.claim({ key: 'k', fingerprint: 'f', owner: 'b', lockTtlMs: 100 })).state,
    ).toBe('claimed');
    await store.complete({ key: 'k', owner: 'b', fingerprint: 'f', payload, retentionMs: 500 });
    clock.advance(499);
    expect(
      (await store.claim({ key: 'k', fingerprint: 'f', owner: 'c', lockTtlMs: 100 })).state,
    ).toBe('completed');
    clock.advance(1);
    expect(
      (await store.claim({ key: 'k', fingerprint: 'f', owner: 'c', lockTtlMs: 100 })).state,
    ).toBe('claimed');
  });

  it('fences: an owner whose lock expired and was re-claimed can neither complete, extend nor release', async () => {
    const clock = new ManualClock();
    const store = memoryStore({ clock });
    await store.claim({ key: 'k', fingerprint: 'f', owner: 'old', lockTtlMs: 100 });
    clock.advance(100);
    await store.claim({ key: 'k', fingerprint: 'f', owner: 'new', lockTtlMs: 100 });
    expect(
      await store.complete({
        key: 'k',
        owner: 'old',
        fingerprint: 'f',
        payload,
        retentionMs: 1000,
      }),
    ).toBe(false);
    expect(await store.extend({ key: 'k', owner: 'old', fingerprint: 'f', lockTtlMs: 100 })).toBe(
      false,
    );
    expect(await store.release({ key: 'k', owner: 'old', fingerprint: 'f' })).toBe(false);
    expect(await store.extend({ key: 'k', owner: 'new', fingerprint: 'f', lockTtlMs: 100 })).toBe(
      true,
    );
    expect(
      await store.complete({
        key: 'k',
        owner: 'new',
        fingerprint: 'f',
        payload,
        retentionMs: 1000,
      }),
    ).toBe(true);
    expect(await store.release({ key: 'k', owner: 'new', fingerprint: 'f' })).toBe(false);
  });

  it('extends a lock from the current time', async () => {
    const clock = new ManualClock();
    const store = memoryStore({ clock });
    await store.claim({ key: 'k', fingerprint: 'f', owner: 'a', lockTtlMs: 100 });
    clock.advance(80);
    await store.extend({ key: 'k', owner: 'a', fingerprint: 'f', lockTtlMs: 100 });
    clock.advance(80);
    expect(
      (await store.claim({ key: 'k', fingerprint: 'f', owner: 'b', lockTtlMs: 100 })).state,
    ).toBe('locked');
  });

  it('is bounded: drops the oldest completed record, and refuses when every slot is a running lock', async () => {
    const store = memoryStore({ maxKeys: 2, clock: new ManualClock() });
    await store.claim({ key: 'a', fingerprint: 'f', owner: 'o', lockTtlMs: 100 });
    await store.complete({ key: 'a', owner: 'o', fingerprint: 'f', payload, retentionMs: 1000 });
    await store.claim({ key: 'b', fingerprint: 'f', owner: 'o', lockTtlMs: 100 });
    await store.claim({ key: 'c', fingerprint: 'f', owner: 'o', lockTtlMs: 100 });
    expect(store.size).toBe(2);
    expect(
      (
        await store
          .claim({ key: 'a', fingerprint: 'f', owner: 'o', lockTtlMs: 100 })
          .catch((e) => e)
      ).code,
    ).toBe('STORE_FULL');
  });

  it('validates its options', () => {
    expect(() => memoryStore({ maxKeys: 0 })).toThrow(/option "maxKeys"/);
    let caught: unknown;
    try {
      memoryStore({ maxKeys: -1 });
    } catch (error) {
      caught = error;
    }
    expect(isIdempotencyError(caught, 'INVALID_OPTIONS')).toBe(true);
  });

  it('closes with await using (Symbol.asyncDispose)', async () => {
    let outside: ReturnType<typeof memoryStore> | undefined;
    {
      await using store = memoryStore();
      outside = store;
      await store.claim({ key: 'k', fingerprint: 'f', owner: 'o', lockTtlMs: 1000 });
      expect(store.size).toBe(1);
    }
    expect(outside.size).toBe(0);
  });

  it('refuses every operation once closed (STORE_CLOSED), and close() is idempotent', async () => {
    const store = memoryStore();
    await store.claim({ key: 'k', fingerprint: 'f', owner: 'o', lockTtlMs: 1000 });
    await store.close();
    await store.close();
    const lock = { key: 'k', fingerprint: 'f', owner: 'o' };
    const codes = await Promise.all(
      [
        store.claim({ ...lock, lockTtlMs: 1000 }),
        store.extend({ ...lock, lockTtlMs: 1000 }),
        store.complete({ ...lock, payload, retentionMs: 1000 }),
        store.release(lock),
      ].map((p) => p.then(String, (e: unknown) => isIdempotencyError(e, 'STORE_CLOSED'))),
    );
    expect(codes).toEqual([true, true, true, true]);
  });
});
