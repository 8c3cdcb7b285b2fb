import { ManualClock } from '@ballast/test-utils';
import { describe, expect, it, vi } from 'vitest';
import {
  abortError,
  anySignal,
  attempt,
  isIdempotentRequest,
  isReplayableBody,
  isReplayableRequest,
  ListenerList,
  raceAbort,
  sleep,
  systemClock,
  throwIfAborted,
  unrefTimer,
} from '../src/index.ts';

describe('sleep', () => {
  it('resolves after the clock advances', async () => {
    const clock = new ManualClock();
    let done = false;
    const pending = sleep(100, { clock }).then(() => {
      done = true;
    });
    await clock.advanceAsync(99);
    expect(done).toBe(false);
    await clock.advanceAsync(1);
    await pending;
    expect(done).toBe(true);
  });

  it('rejects with the abort reason and clears its timer', async () => {
    const clock = new ManualClock();
    const controller = new AbortController();
    const pending = sleep(100, { clock, signal: controller.signal });
    controller.abort(new Error('stop'));
    await expect(pending).rejects.toThrow('stop');
    expect(clock.pending).toBe(0);
    await expect(sleep(1, { clock, signal: controller.signal })).rejects.toThrow('stop');
  });

  it('uses timers that keep the process alive (a delay the caller awaits)', () => {
    const handle = systemClock.setTimeout(() => {}, 1000) as NodeJS.Timeout;
    expect(handle.hasRef()).toBe(true);
    unrefTimer(handle);
    expect(handle.hasRef()).toBe(false);
    systemClock.clearTimeout(handle);
    expect(unrefTimer(7)).toBe(7);
  });
});

describe('ListenerList', () => {
  it('adds, emits and disposes; a listener may dispose while emitting', () => {
    const onChange = vi.fn();
    const list = new ListenerList<number>({ onChange });
    const seen: number[] = [];
    const sub = list.add((n) => {
      seen.push(n);
      sub.dispose();
    });
    list.add((n) => seen.push(n * 10));
    list.emit(1);
    list.emit(2);
    expect(seen).toEqual([1, 10, 20]);
    expect(list.size).toBe(1);
    expect(onChange).toHaveBeenCalledTimes(3);
    sub.dispose();
    expect(onChange).toHaveBeenCalledTimes(3);
  });

  it('rethrows a throwing listener on a microtask without stopping the others', async () => {
    const list = new ListenerList<string>();
    const after = vi.fn();
    list.add(() => {
      throw new Error('listener bug');
    });
    list.add(after);
    const caught = new Promise<unknown>((resolve) => {
      const original = globalThis.queueMicrotask;
      globalThis.queueMicrotask = (fn) => {
        globalThis.queueMicrotask = original;
        try {
          fn();
        } catch (error) {
          resolve(error);
        }
      };
    });
    list.emit('e');
    expect(after).toHaveBeenCalledWith('e');
    expect(await caught).toMatchObject({ message: 'listener bug' });
  });

  it('refuses a listener that is not a function with the given error', () => {
    class Bad extends Error {
      readonly option: string;
      constructor(issue: { option: string; message: string }) {
        super(issue.message);
        this.option = issue.option;
      }
    }
    expect(() => new ListenerList<number>({ error: Bad }).add(1 as never)).toThrow(Bad);
    expect(() => new ListenerList<number>().add(1 as never)).toThrow(TypeError);
  });
});

describe('cancellation helpers', () => {
  it('attempt turns a synchronous throw into a rejection', async () => {
    await expect(
      attempt(() => {
        throw new Error('sync');
      }),
    ).rejects.toThrow('sync');
    await expect(attempt((a: number, b: number) => a + b, 1, 2)).resolves.toBe(3);
  });

  it('raceAbort rejects on abort and removes its listener when settled', async () => {
    const controller = new AbortController();
    const never = new Promise<never>(() => {});
    const raced = raceAbort(never, controller.signal);
    controller.abort('why');
    await expect(raced).rejects.toMatchObject({ name: 'AbortError', cause: 'why' });
    const other = new AbortController();
    const spy = vi.spyOn(other.signal, 'removeEventListener');
    await expect(raceAbort(Promise.resolve(5), other.signal)).resolves.toBe(5);
    expect(spy).toHaveBeenCalled();
    await expect(raceAbort(Promise.resolve(1), undefined)).resolves.toBe(1);
  });

  it('abortError keeps an Error reason; throwIfAborted throws it', () => {
    const controller = new AbortController();
    const reason = new Error('gone');
    controller.abort(reason);
    expect(abortError(controller.signal)).toBe(reason);
    expect(() => throwIfAborted(controller.signal)).toThrow('gone');
    expect(() => throwIfAborted(undefined)).not.toThrow();
  });

  it('anySignal combines, passes one through, and gives undefined for none', () => {
    const a = new AbortController();
    const b = new AbortController();
    expect(anySignal(a.signal, undefined)).toBe(a.signal);
    expect(anySignal()).toBeUndefined();
    const both = anySignal(a.signal, b.signal)!;
    b.abort('b');
    expect(both.aborted).toBe(true);
    expect(both.reason).toBe('b');
  });
});

describe('the replayable-request rule', () => {
  it('idempotent methods, TRACE included, or an Idempotency-Key header', () => {
    for (const method of ['GET', 'head', 'OPTIONS', 'PUT', 'DELETE', 'TRACE'])
      expect(isIdempotentRequest(method)).toBe(true);
    expect(isIdempotentRequest('POST')).toBe(false);
    expect(isIdempotentRequest('POST', { 'Idempotency-Key': 'k' })).toBe(true);
    expect(isIdempotentRequest('POST', ['idempotency-key', 'k'])).toBe(true);
    expect(isIdempotentRequest('PATCH', new Map([['Idempotency-Key', 'k']]))).toBe(true);
    expect(isIdempotentRequest('POST', { 'idempotency-key': undefined })).toBe(false);
  });

  it('a stream body cannot be replayed', async () => {
    const { Readable } = await import('node:stream');
    expect(isReplayableBody('x')).toBe(true);
    expect(isReplayableBody(Buffer.from('x'))).toBe(true);
    expect(isReplayableBody(null)).toBe(true);
    expect(isReplayableBody(Readable.from(['x']))).toBe(false);
    expect(isReplayableRequest({ method: 'PUT', body: Readable.from(['x']) })).toBe(false);
    expect(isReplayableRequest({ method: 'GET' })).toBe(true);
  });
});
