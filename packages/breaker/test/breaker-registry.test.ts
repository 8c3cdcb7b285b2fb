import { ManualClock } from '@ballast/test-utils';
import { describe, expect, it } from 'vitest';
import { createBreakerRegistry, isBreakerError } from '../src/index.ts';

const fail = () => Promise.reject(new Error('down'));

describe('createBreakerRegistry()', () => {
  it('creates one breaker per key from the shared options, named by the key', async () => {
    const clock = new ManualClock();
    const breakers = createBreakerRegistry({ breaker: { clock, windowSize: 2, minimumCalls: 2 } });
    const a = breakers.get('a.example');
    expect(breakers.get('a.example')).toBe(a);
    const b = breakers.get('b.example');
    expect(b).not.toBe(a);
    expect(a.name).toBe('a.example');
    for (let i = 0; i < 2; i++) await a.execute(fail).catch(() => {});
    expect(a.state).toBe('OPEN');
    expect(b.state).toBe('CLOSED'); // keys do not share state
    const error = await a.execute(async () => 1).catch((e: unknown) => e);
    expect(isBreakerError(error, 'BREAKER_OPEN')).toBe(true);
    expect((error as { breaker: string }).breaker).toBe('a.example');
    expect(breakers.size).toBe(2);
  });

  it('keeps at most maxBreakers, dropping the least recently used', () => {
    const clock = new ManualClock();
    // idleMs 16 s: recency is refreshed when a key is fetched again ≥ 1 s after its last refresh
    const breakers = createBreakerRegistry({ maxBreakers: 3, idleMs: 16_000, breaker: { clock } });
    const first = breakers.get('1');
    breakers.get('2');
    breakers.get('3');
    clock.advance(1_000);
    breakers.get('1'); // 1 is now the most recent
    breakers.get('4'); // evicts 2
    expect([...breakers.keys()]).toEqual(['3', '1', '4']);
    expect(breakers.peek('2')).toBeUndefined();
    expect(breakers.get('1')).toBe(first);
    expect(breakers.size).toBe(3);
  });

  it('does not reorder a key fetched again within the refresh interval', () => {
    const clock = new ManualClock();
    const breakers = createBreakerRegistry({ idleMs: 16_000, breaker: { clock } });
    breakers.get('a');
    breakers.get('b');
    clock.advance(999);
    breakers.get('a'); // within 1 s: keeps its place (no Map churn on a hot key)
    expect([...breakers.keys()]).toEqual(['a', 'b']);
    clock.advance(1);
    breakers.get('a');
    expect([...breakers.keys()]).toEqual(['b', 'a']);
  });

  it('drops breakers idle for idleMs, lazily, without timers', () => {
    const clock = new ManualClock(5_000);
    const breakers = createBreakerRegistry({ idleMs: 1_000, breaker: { clock } });
    const old = breakers.get('old');
    clock.advance(600);
    breakers.get('recent');
    clock.advance(500); // old idle for 1100 ms (≥ idleMs + idleMs/16), recent for 500
    expect(breakers.size).toBe(2); // nothing happens until the registry is used
    breakers.get('another');
    expect([...breakers.keys()]).toEqual(['recent', 'another']);
    expect(breakers.get('old')).not.toBe(old); // a fresh breaker
    expect(clock.pending).toBe(0);
  });

  it('evicts a breaker once surely idle for idleMs, however the order changed', () => {
    const clock = new ManualClock(0);
    // idleMs 1600: refresh interval 100 ms, so a breaker goes 1700 ms after its recorded use
    const breakers = createBreakerRegistry({ idleMs: 1_600, breaker: { clock } });
    breakers.get('a');
    clock.advance(500);
    breakers.get('b');
    clock.advance(400);
    breakers.get('a'); // t=900: a is recent again, b (t=500) is now the oldest
    clock.advance(100);
    breakers.get('c'); // t=1000
    expect([...breakers.keys()]).toEqual(['b', 'a', 'c']);
    clock.advance(1_199);
    breakers.get('c'); // t=2199: b idle 1699 ms
    expect(breakers.peek('b')).toBeDefined();
    clock.advance(1);
    breakers.get('c'); // t=2200: b idle 1700 ms
    expect([...breakers.keys()]).toEqual(['a', 'c']);
    clock.advance(400);
    breakers.get('c'); // t=2600: a (t=900) idle 1700 ms
    expect([...breakers.keys()]).toEqual(['c']);
  });

  it('peek() neither creates nor refreshes; delete() drops a key', () => {
    const clock = new ManualClock();
    const breakers = createBreakerRegistry({ idleMs: 100, breaker: { clock } });
    expect(breakers.peek('x')).toBeUndefined();
    expect(breakers.size).toBe(0);
    breakers.get('x');
    breakers.get('y');
    expect(breakers.peek('x')?.name).toBe('x');
    expect(breakers.delete('x')).toBe(true);
    expect(breakers.delete('x')).toBe(false);
    expect([...breakers.keys()]).toEqual(['y']);
  });

  it('validates the shared options once, not per key', () => {
    let reads = 0;
    const breaker = {
      get windowSize() {
        reads++;
        return 10;
      },
    };
    const breakers = createBreakerRegistry({ breaker });
    const afterConstruction = reads;
    for (let i = 0; i < 100; i++) breakers.get(`k${i}`);
    expect(reads).toBe(afterConstruction);
  });

  it('close() drops every breaker; get() then throws', async () => {
    const breakers = createBreakerRegistry();
    const a = breakers.get('a');
    const changes: unknown[] = [];
    a.onStateChange((event) => changes.push(event));
    await breakers[Symbol.asyncDispose]();
    expect(breakers.size).toBe(0);
    // Its breakers are closed too: they refuse work, and their listeners were dropped.
    await expect(a.execute(async () => 1)).rejects.toSatisfy((e) =>
      isBreakerError(e, 'POLICY_CLOSED'),
    );
    expect(changes).toEqual([]);
    expect(() => breakers.get('a')).toThrowError(
      expect.objectContaining({ code: 'POLICY_CLOSED', policy: 'breakerRegistry' }),
    );
  });

  it('rejects a key that is not a string', () => {
    const breakers = createBreakerRegistry();
    expect(() => breakers.get(42 as never)).toThrowError(/must be a string/);
  });

  it('holds 10,000 breakers without a timer', async () => {
    const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const before = timers();
    const breakers = createBreakerRegistry({ maxBreakers: 10_000 });
    for (let i = 0; i < 10_000; i++) await breakers.get(`host-${i}`).execute(async () => i);
    expect(breakers.size).toBe(10_000);
    expect(timers()).toBe(before);
    breakers.close();
  });
});
