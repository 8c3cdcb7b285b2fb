import { z } from 'zod';
import { Engine } from './engine.ts';
import { IdempotencyError } from './errors.ts';
import { digest, storeKeyOf } from './fingerprint.ts';
import { type EngineInput, engineShape, fn, parseOptions } from './options.ts';

const wrapperSchema = z
  .object({
    ...engineShape,
    key: fn<(...args: never[]) => unknown>(),
    scope: fn<(...args: never[]) => unknown>().optional(),
    fingerprint: fn<(...args: never[]) => unknown>().optional(),
    encode: fn<(value: never) => Uint8Array | string>().optional(),
    decode: fn<(payload: Uint8Array) => unknown>().optional(),
  })
  .strict();

/** Options of {@link idempotent}. */
export interface IdempotentOptions<A extends unknown[], R> extends EngineInput {
  /** The idempotency key of a call, e.g. the message id. Required. */
  key: (...args: A) => string;
  /** Server-side namespace of keys (tenant, queue, …). Default: none. */
  scope?: (...args: A) => string | undefined;
  /** What makes two calls "the same". Default: all arguments (digested). */
  fingerprint?: (...args: A) => unknown;
  /** Turns a result into stored bytes. Default: JSON. */
  encode?: (value: R) => Uint8Array | string;
  /** Turns stored bytes back into a result. Default: JSON. */
  decode?: (payload: Uint8Array) => R;
}

const UNDEFINED = '\0undefined';

function encodeJson(value: unknown): string {
  return value === undefined ? UNDEFINED : JSON.stringify(value);
}

function decodeJson(payload: Uint8Array): unknown {
  const text = Buffer.from(payload).toString();
  return text === UNDEFINED ? undefined : JSON.parse(text);
}

/**
 * Wraps `fn` so that calls with the same key run it once: a message consumer, job or RPC that
 * may be delivered twice. The first call runs and its (JSON) result is stored for `retentionMs`;
 * later calls with the same key and arguments return the stored result; a call with the same key
 * but different arguments rejects with `IDEMPOTENCY_KEY_REUSED`; a call while the first runs
 * rejects with `IDEMPOTENCY_KEY_IN_PROGRESS` (or waits, with `waitForInFlightMs`). A thrown error
 * releases the key, so the redelivery runs again.
 */
export function idempotent<A extends unknown[], R>(
  work: (...args: A) => R | Promise<R>,
  options: IdempotentOptions<A, R>,
): (...args: A) => Promise<Awaited<R>> {
  if (typeof work !== 'function') {
    throw new IdempotencyError(
      'INVALID_OPTIONS',
      'idempotent() needs the function to wrap as its first argument.',
    );
  }
  const parsed = parseOptions(wrapperSchema, options, 'idempotent()');
  const engine = new Engine(parsed);
  const opts = options as IdempotentOptions<A, R>;
  const encode = opts.encode ?? encodeJson;
  const decode = (opts.decode ?? decodeJson) as (payload: Uint8Array) => Awaited<R>;
  return async (...args: A): Promise<Awaited<R>> => {
    const key = opts.key(...args);
    if (typeof key !== 'string' || key.length === 0) {
      throw new IdempotencyError(
        'IDEMPOTENCY_KEY_MISSING',
        'The key option of idempotent() returned no key; return a non-empty string (e.g. the message id).',
      );
    }
    const span = engine.telemetry.startSpan('call');
    try {
      const decision = await engine.begin({
        key,
        storeKey: storeKeyOf(opts.scope?.(...args) ?? '', key),
        fingerprint: digest(opts.fingerprint ? opts.fingerprint(...args) : args),
        span,
      });
      switch (decision.outcome) {
        case 'replay':
          return decode(decision.payload);
        case 'fail-open':
          return (await work(...args)) as Awaited<R>;
        case 'conflict':
          throw new IdempotencyError(
            'IDEMPOTENCY_KEY_IN_PROGRESS',
            `A call with key "${key}" is still running; retry later (or set waitForInFlightMs).`,
          );
        case 'mismatch':
          throw new IdempotencyError(
            'IDEMPOTENCY_KEY_REUSED',
            `Key "${key}" was already used with different arguments; use a new key for a new operation.`,
          );
      }
      let result: Awaited<R>;
      try {
        result = (await work(...args)) as Awaited<R>;
      } catch (error) {
        await decision.lease.release('thrown');
        throw error;
      }
      const encoded = encode(result);
      await decision.lease.complete(typeof encoded === 'string' ? Buffer.from(encoded) : encoded);
      return result;
    } finally {
      span.end();
    }
  };
}
