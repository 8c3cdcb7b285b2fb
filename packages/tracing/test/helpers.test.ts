import { pino } from 'pino';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import {
  bindContext,
  currentTraceIds,
  extract,
  inject,
  isTracingError,
  logFields,
  pinoMixin,
  withSpan,
} from '../src/index.ts';
import { createTestTracing } from '../src/testing.ts';

const tracing = createTestTracing({ serviceName: 'helpers-test' });
beforeEach(() => tracing.reset());
afterAll(() => tracing.shutdown());

describe('withSpan', () => {
  it('returns what a sync fn returns and ends the span', () => {
    const value = withSpan('sync-work', (span) => {
      expect(span.isRecording()).toBe(true);
      return 42;
    });
    expect(value).toBe(42);
    const [span] = tracing.spans({ name: 'sync-work' });
    expect(span?.kind).toBe('internal');
    expect(span?.status.code).toBe('unset');
  });

  it('resolves with an async fn, with attributes and kind', async () => {
    const value = await withSpan('async-work', async () => 'done', {
      attributes: { 'order.id': 'o-1' },
      kind: 'consumer',
    });
    expect(value).toBe('done');
    expect(
      tracing.spans({ name: 'async-work', attributes: { 'order.id': 'o-1' }, kind: 'consumer' }),
    ).toHaveLength(1);
  });

  it('records a throw as an exception and ERROR status, and rethrows it', () => {
    expect(() =>
      withSpan('throws', () => {
        throw new Error('boom');
      }),
    ).toThrow('boom');
    const [span] = tracing.spans({ name: 'throws' });
    expect(span?.status).toEqual({ code: 'error', message: 'boom' });
    expect(span?.events.map((event) => event.name)).toEqual(['exception']);
  });

  it('records a rejection and passes it on', async () => {
    await expect(
      withSpan('rejects', async () => Promise.reject(new TypeError('bad'))),
    ).rejects.toThrow('bad');
    const [span] = tracing.spans({ name: 'rejects' });
    expect(span?.status.code).toBe('error');
    expect(span?.events[0]?.attributes['exception.type']).toBe('TypeError');
  });

  it('nests: a span started inside is a child, across awaits', async () => {
    await withSpan('parent', async () => {
      await new Promise((resolve) => setTimeout(resolve, 1));
      await withSpan('child', async () => {
        withSpan('grandchild', () => undefined);
      });
    });
    const [root] = tracing.tree();
    expect(root?.name).toBe('parent');
    expect(root?.children.map((c) => c.name)).toEqual(['child']);
    expect(root?.children[0]?.children.map((c) => c.name)).toEqual(['grandchild']);
  });

  it('rejects misuse with INVALID_OPTIONS naming the option', () => {
    const call = (name: unknown, fn: unknown, options?: unknown) => {
      try {
        withSpan(name as string, fn as () => void, options as never);
      } catch (error) {
        return error;
      }
      return undefined;
    };
    const noName = call('', () => 1);
    expect(isTracingError(noName, 'INVALID_OPTIONS') && noName.option).toBe('name');
    const noFn = call('x', 42);
    expect(isTracingError(noFn, 'INVALID_OPTIONS') && noFn.received).toBe(42);
    const badKind = call('x', () => 1, { kind: 'sideways' });
    expect(isTracingError(badKind, 'INVALID_OPTIONS') && badKind.option).toBe('kind');
  });
});

describe('currentTraceIds / logFields / pinoMixin', () => {
  it('give the active span ids inside a span, nothing outside', () => {
    expect(currentTraceIds()).toBeUndefined();
    expect(logFields()).toEqual({});
    withSpan('ids', (span) => {
      const ids = currentTraceIds();
      expect(ids).toEqual({
        traceId: span.spanContext().traceId,
        spanId: span.spanContext().spanId,
        traceFlags: '01',
      });
      expect(pinoMixin()).toEqual({
        trace_id: ids?.traceId,
        span_id: ids?.spanId,
        trace_flags: '01',
      });
    });
  });

  it("pino merges a line's fields into the mixin's object, inside and outside a span", () => {
    // pino's default mixinMergeStrategy writes the line's fields into the object the mixin
    // returned: a shared frozen `{}` outside a span threw "object is not extensible".
    const lines: Record<string, unknown>[] = [];
    const destination = { write: (line: string) => lines.push(JSON.parse(line)) };
    const log = pino({ mixin: pinoMixin }, destination);
    log.info({ startupMs: 12 }, 'outside');
    withSpan('logged', () => log.info({ order: 'o-1' }, 'inside'));
    expect(lines[0]).toMatchObject({ msg: 'outside', startupMs: 12 });
    expect(lines[0]).not.toHaveProperty('trace_id');
    expect(lines[1]).toMatchObject({ msg: 'inside', order: 'o-1', trace_flags: '01' });
    expect(lines[1]?.['trace_id']).toMatch(/^[0-9a-f]{32}$/);
    expect(logFields()).not.toBe(logFields());
  });
});

describe('bindContext', () => {
  it('keeps the span of where it was bound, however later it is called', async () => {
    let later: (() => void) | undefined;
    withSpan('binder', () => {
      later = bindContext(() => withSpan('bound-work', () => undefined));
    });
    await new Promise((resolve) => setImmediate(resolve));
    later?.();
    const [binder] = tracing.spans({ name: 'binder' });
    const [bound] = tracing.spans({ name: 'bound-work' });
    expect(bound?.parentSpanId).toBe(binder?.spanId);
    expect(bound?.traceId).toBe(binder?.traceId);
  });
});

describe('inject / extract', () => {
  it('carry a trace through message headers (plain object)', () => {
    const headers = withSpan('producer', () => inject({} as Record<string, string>), {
      kind: 'producer',
    });
    expect(headers.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    withSpan('consumer', () => undefined, { kind: 'consumer', parent: extract(headers) });
    const [producer] = tracing.spans({ name: 'producer' });
    const [consumer] = tracing.spans({ name: 'consumer' });
    expect(consumer?.traceId).toBe(producer?.traceId);
    expect(consumer?.parentSpanId).toBe(producer?.spanId);
  });

  it('work with Map and Headers carriers, and carry baggage', () => {
    const map = withSpan('map-producer', () => inject(new Map<string, string>()));
    expect(map.get('traceparent')).toBeDefined();
    const headers = new Headers({
      traceparent: map.get('traceparent') ?? '',
      baggage: 'tenant=acme',
    });
    const context = extract(headers);
    withSpan(
      'map-consumer',
      () => {
        const out = inject({} as Record<string, string>);
        expect(out.baggage).toBe('tenant=acme');
      },
      { parent: context },
    );
    const [producer] = tracing.spans({ name: 'map-producer' });
    const [consumer] = tracing.spans({ name: 'map-consumer' });
    expect(consumer?.parentSpanId).toBe(producer?.spanId);
  });

  it('extract without propagation headers gives a fresh root', () => {
    withSpan('orphan', () => undefined, { parent: extract({}) });
    expect(tracing.spans({ name: 'orphan' })[0]?.parentSpanId).toBeUndefined();
  });

  it('reject a carrier that is not an object', () => {
    expect(() => inject(null as never)).toThrow(/carrier/);
    expect(() => extract('x' as never)).toThrow(/carrier/);
  });
});

describe('createTestTracing', () => {
  it('finds spans by name pattern and attributes, and reset() forgets them', () => {
    withSpan('find-a', () => undefined, { attributes: { n: 1, tags: ['x', 'y'] } });
    withSpan('find-b', () => undefined, { attributes: { n: 2 } });
    expect(tracing.spans({ name: /^find-/ }).map((s) => s.name)).toEqual(['find-a', 'find-b']);
    expect(tracing.spans({ attributes: { n: 2 } }).map((s) => s.name)).toEqual(['find-b']);
    expect(tracing.spans({ attributes: { tags: ['x', 'y'] } })).toHaveLength(1);
    expect(tracing.spans({ attributes: { tags: ['x'] } })).toHaveLength(0);
    tracing.reset();
    expect(tracing.spans()).toEqual([]);
  });

  it('is shared: a second call resets and returns the same tracing', () => {
    withSpan('before-second', () => undefined);
    const again = createTestTracing();
    expect(again.spans()).toEqual([]);
    expect(again.handle).toBe(tracing.handle);
    expect(tracing.handle.status().state).toBe('running');
  });

  it('tree() filters by trace and orders children by start', () => {
    const traceId = withSpan('t-root', (span) => {
      withSpan('t-first', () => undefined);
      withSpan('t-second', () => undefined);
      return span.spanContext().traceId;
    });
    withSpan('other-root', () => undefined);
    const roots = tracing.tree({ traceId });
    expect(roots.map((r) => r.name)).toEqual(['t-root']);
    expect(roots[0]?.children.map((c) => c.name)).toEqual(['t-first', 't-second']);
  });
});

describe('the active context', () => {
  it('keeps, replaces and deletes values like the API context, however deep it grows', async () => {
    const { context, createContextKey } = await import('@opentelemetry/api');
    const a = createContextKey('a');
    const b = createContextKey('b');
    const root = context.active();
    expect(root.getValue(a)).toBeUndefined();
    const one = root.setValue(a, 1);
    expect(one.getValue(a)).toBe(1);
    expect(root.getValue(a)).toBeUndefined(); // contexts are immutable
    const two = one.setValue(b, 'x').setValue(a, 2);
    expect([two.getValue(a), two.getValue(b)]).toEqual([2, 'x']);
    const deleted = two.deleteValue(a);
    expect([deleted.getValue(a), deleted.getValue(b)]).toEqual([undefined, 'x']);
    expect(deleted.deleteValue(a)).toBe(deleted);
    // A long chain of settings (nested spans, baggage, …) is compacted, with the same values.
    let deep = deleted;
    const keys = Array.from({ length: 100 }, (_, i) => createContextKey(`k${i}`));
    for (const [i, key] of keys.entries()) deep = deep.setValue(key, i).setValue(a, i);
    expect(keys.map((key) => deep.getValue(key))).toEqual(keys.map((_, i) => i));
    expect([deep.getValue(a), deep.getValue(b)]).toEqual([99, 'x']);
    expect(deep.deleteValue(b).getValue(b)).toBeUndefined();
    expect(context.with(deep, () => context.active().getValue(keys[7] as symbol))).toBe(7);
  });
});
