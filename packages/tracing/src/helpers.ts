import type { Attributes, Context, Span, TextMapGetter, TextMapSetter } from '@opentelemetry/api';
import { api } from './api.ts';
import { InvalidOptionsError } from './errors.ts';

/** A span's kind, by name. */
export type SpanKindName = 'internal' | 'server' | 'client' | 'producer' | 'consumer';

/** Options of {@link withSpan}. */
export interface WithSpanOptions {
  /** Attributes of the span; set only when the span records (sampled). */
  attributes?: Attributes | undefined;
  /** The span's kind. Default `'internal'`. */
  kind?: SpanKindName | undefined;
  /**
   * The parent: a context from {@link extract} (a message's headers). Default: the active context.
   */
  parent?: Context | undefined;
}

/**
 * Headers of a message or request: a plain object (`Record<string, string>`, Node's
 * `IncomingHttpHeaders`), or anything with `get`/`set` (`Headers`, `Map`).
 */
export type Carrier =
  | Record<string, string | string[] | undefined>
  | { get(key: string): string | null | undefined; set(key: string, value: string): unknown };

const KINDS: Record<SpanKindName, number> = {
  internal: 0,
  server: 1,
  client: 2,
  producer: 3,
  consumer: 4,
};
const TRACER = '@ballast/tracing';

function misuse(helper: string, option: string, expected: string, received: unknown): never {
  throw new InvalidOptionsError({
    option,
    received,
    message: `${helper}: ${option} must be ${expected}. See "Span helpers" in the @ballast/tracing README.`,
  });
}

const isThenable = (value: unknown): value is PromiseLike<unknown> =>
  value !== null &&
  (typeof value === 'object' || typeof value === 'function') &&
  typeof (value as { then?: unknown }).then === 'function';

function fail(span: Span, error: unknown): void {
  if (!span.isRecording()) return;
  const otel = api();
  if (error instanceof Error) span.recordException(error);
  else span.recordException({ message: String(error) });
  span.setStatus({
    code: otel.SpanStatusCode.ERROR,
    message: error instanceof Error ? error.message : String(error),
  });
}

/**
 * Runs `fn` in a new active span named `name` and returns what `fn` returns (a promise for an
 * async `fn`). On a throw or a rejection the span records the exception and gets ERROR status; the
 * span ends when `fn` returns or its promise settles. A no-op span when tracing is not started.
 *
 * ```ts
 * const total = await withSpan('cart.total', async (span) => sum(await items()), { attributes: { 'cart.id': id } });
 * ```
 */
export function withSpan<T>(name: string, fn: (span: Span) => T, options?: WithSpanOptions): T {
  if (typeof name !== 'string' || name === '')
    misuse('withSpan()', 'name', 'a non-empty string', name);
  if (typeof fn !== 'function') misuse('withSpan()', 'fn', 'a function', fn);
  const kindName = options?.kind ?? 'internal';
  const kind = KINDS[kindName];
  if (kind === undefined) misuse('withSpan()', 'kind', Object.keys(KINDS).join(', '), kindName);
  const otel = api();
  const parent = options?.parent ?? otel.context.active();
  const span = otel.trace.getTracer(TRACER).startSpan(name, { kind }, parent);
  if (options?.attributes !== undefined && span.isRecording())
    span.setAttributes(options.attributes);
  return otel.context.with(otel.trace.setSpan(parent, span), () => {
    let result: T;
    try {
      result = fn(span);
    } catch (error) {
      fail(span, error);
      span.end();
      throw error;
    }
    if (!isThenable(result)) {
      span.end();
      return result;
    }
    return result.then(
      (value) => {
        span.end();
        return value;
      },
      (error: unknown) => {
        fail(span, error);
        span.end();
        throw error;
      },
    ) as T;
  });
}

/**
 * `fn` bound to the context active now: however later it is called (an event emitter, a queue, a
 * timer of another library), spans it starts are children of the current span.
 */
export function bindContext<F extends (...args: never[]) => unknown>(fn: F): F {
  if (typeof fn !== 'function') misuse('bindContext()', 'fn', 'a function', fn);
  const otel = api();
  return otel.context.bind(otel.context.active(), fn);
}

const carrierGetter: TextMapGetter<Carrier> = {
  keys: (carrier) =>
    typeof carrier.get === 'function' && typeof (carrier as { keys?: unknown }).keys === 'function'
      ? [...(carrier as unknown as Map<string, string>).keys()]
      : Object.keys(carrier),
  get: (carrier, key) => {
    if (typeof carrier.get === 'function')
      return (carrier.get as (k: string) => string | null)(key) ?? undefined;
    const value = (carrier as Record<string, string | string[] | undefined>)[key];
    return value;
  },
};

const carrierSetter: TextMapSetter<Carrier> = {
  set: (carrier, key, value) => {
    if (typeof carrier.set === 'function')
      (carrier.set as (k: string, v: string) => unknown)(key, value);
    else (carrier as Record<string, string>)[key] = value;
  },
};

/**
 * Writes the active trace context (`traceparent`, `tracestate`, `baggage`) into `carrier` — the
 * headers of a message you are about to publish — and returns it.
 *
 * ```ts
 * await redis.xadd('orders', '*', 'body', json, 'headers', JSON.stringify(inject({})));
 * ```
 */
export function inject<C extends Carrier>(carrier: C, context?: Context): C {
  if (carrier === null || typeof carrier !== 'object')
    misuse('inject()', 'carrier', 'an object', carrier);
  const otel = api();
  otel.propagation.inject(context ?? otel.context.active(), carrier, carrierSetter);
  return carrier;
}

/**
 * The trace context carried by `carrier` (a consumed message's headers), to pass as
 * `withSpan(name, fn, { parent: extract(headers), kind: 'consumer' })`. Without propagation
 * headers it is the active context.
 */
export function extract(carrier: Carrier, context?: Context): Context {
  if (carrier === null || typeof carrier !== 'object')
    misuse('extract()', 'carrier', 'an object', carrier);
  const otel = api();
  return otel.propagation.extract(context ?? otel.context.active(), carrier, carrierGetter);
}
