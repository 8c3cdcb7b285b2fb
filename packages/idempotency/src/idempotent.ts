import { anySignal, attempt, o } from '@ballast/kernel';
import { Engine, type Lease } from './engine.ts';
import {
  IdempotencyKeyInProgressError,
  IdempotencyKeyMissingError,
  IdempotencyKeyReusedError,
  InvalidOptionsError,
  ResultNotEncodableError,
  ScopeMissingError,
} from './errors.ts';
import { digest, storeKeyOf } from './fingerprint.ts';
import { type EngineInput, engineShape, type IdempotencyEvents, parse } from './options.ts';

function wrapperSchema<A extends unknown[], R>() {
  return o.object({
    ...engineShape,
    key: o.fn<(...args: A) => string>(),
    scope: o.fn<(...args: A) => string | undefined>().optional(),
    fingerprint: o.fn<(...args: A) => unknown>().optional(),
    encode: o.fn<(value: R) => Uint8Array | string>().optional(),
    decode: o.fn<(payload: Uint8Array) => R>().optional(),
    signal: o.signal().optional(),
  });
}

/** Options of {@link idempotent}. */
export interface IdempotentOptions<A extends unknown[], R> extends EngineInput {
  /** The idempotency key of a call, e.g. the message id. Required. */
  key: (...args: A) => string;
  /**
   * Server-side namespace of keys (tenant, queue, …). Default: none. When set and it returns
   * nothing (undefined or ''), the call rejects with `ScopeMissingError` instead of sharing one
   * scope between every caller.
   */
  scope?: ((...args: A) => string | undefined) | undefined;
  /** What makes two calls "the same". Default: all arguments (digested). */
  fingerprint?: ((...args: A) => unknown) | undefined;
  /** Turns a result into stored bytes. Default: JSON (and `undefined`). */
  encode?: ((value: R) => Uint8Array | string) | undefined;
  /** Turns stored bytes back into a result. Default: JSON. */
  decode?: ((payload: Uint8Array) => R) | undefined;
  /**
   * Aborts every wait of the wrapped function (`waitForInFlightMs`) and refuses new calls with
   * `AbortedError`, e.g. at shutdown. Work already running is not interrupted.
   */
  signal?: AbortSignal | undefined;
}

/** What {@link idempotent} returns: the wrapped function, with `onEvent(listener)`. */
export type IdempotentFunction<A extends unknown[], R> = ((...args: A) => Promise<Awaited<R>>) &
  IdempotencyEvents;

const UNDEFINED = '\0undefined';

function encodeJson(value: unknown): string {
  if (value === undefined) return UNDEFINED;
  const text = JSON.stringify(value);
  // JSON.stringify answers undefined (no text at all) for a function or a symbol.
  if (typeof text !== 'string') throw new TypeError(`JSON cannot encode a ${typeof value}`);
  return text;
}

function decodeJson(payload: Uint8Array): unknown {
  const text = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).toString();
  return text === UNDEFINED ? undefined : JSON.parse(text);
}

/** The options of {@link idempotent} that read a call's arguments. */
type CallOptions<A extends unknown[]> = Pick<IdempotentOptions<A, unknown>, 'key' | 'scope'>;

/** The call's key, from the `key` option; none (or not a string) rejects the call. */
function callKey<A extends unknown[]>(opts: CallOptions<A>, args: A): string {
  const key = opts.key(...args);
  if (typeof key !== 'string' || key.length === 0) {
    throw new IdempotencyKeyMissingError(
      'The key option of idempotent() returned no key; return a non-empty string (e.g. the message id).',
    );
  }
  return key;
}

/** The call's scope ('' without a `scope` option); a scope option that returns nothing rejects. */
function callScope<A extends unknown[]>(
  opts: CallOptions<A>,
  engine: Engine,
  key: string,
  args: A,
): string {
  if (!opts.scope) return '';
  const value = opts.scope(...args);
  if (value === undefined || value === null || value === '') {
    engine.emit({ key }, { type: 'rejected', reason: 'scope-missing' });
    throw new ScopeMissingError(
      `The scope option of idempotent() returned nothing for key "${key}", so the call was refused rather than run in a scope shared by every caller; return the tenant (or queue, …) the call belongs to.`,
    );
  }
  return String(value);
}

/**
 * Runs the call that claimed `key` and stores its encoded result; a throw, or a result that
 * cannot be encoded, releases the key instead (so a redelivery runs again).
 */
async function runClaimed<R>(
  lease: Lease,
  key: string,
  run: () => Promise<R>,
  encode: (value: R) => Uint8Array | string,
): Promise<R> {
  let result: R;
  try {
    result = await run();
  } catch (error) {
    await lease.release('thrown');
    throw error;
  }
  // A string result stays a string: the lease hands it to a store that takes text as it is, and
  // its UTF-8 bytes to any other (the bytes `decode` gets back either way).
  let payload: Uint8Array | string;
  try {
    payload = encode(result);
  } catch (error) {
    await lease.release('not-encodable');
    throw new ResultNotEncodableError(
      `idempotent() could not encode the result for key "${key}" (${(error as Error)?.message ?? String(error)}), so it was not stored and the key was released; return JSON-encodable values (no BigInt, no cycles) or pass encode and decode.`,
      { cause: error },
    );
  }
  await lease.complete(payload);
  return result;
}

/**
 * Wraps `work` so that calls with the same key run it once: a message consumer, job or RPC that
 * may be delivered twice. The first call runs and its (JSON) result is stored for `retentionMs`;
 * later calls with the same key and arguments return the stored result; a call with the same key
 * but different arguments rejects with `IdempotencyKeyReusedError`; a call while the first runs
 * rejects with `IdempotencyKeyInProgressError` (or waits, with `waitForInFlightMs`). A thrown error
 * releases the key, so the redelivery runs again; so does a result that cannot be encoded, which
 * rejects with `ResultNotEncodableError`.
 */
export function idempotent<A extends unknown[], R>(
  work: (...args: A) => R | Promise<R>,
  options: IdempotentOptions<A, R>,
): IdempotentFunction<A, R> {
  if (typeof work !== 'function') {
    throw new InvalidOptionsError({
      option: 'work',
      received: work,
      message:
        'idempotent(): its first argument must be the function to wrap (got a non-function).',
    });
  }
  const opts = parse(wrapperSchema<A, R>(), options, 'idempotent()');
  const engine = new Engine(opts);
  const encode = (opts.encode ?? encodeJson) as (value: Awaited<R>) => Uint8Array | string;
  const decode = (opts.decode ?? decodeJson) as (payload: Uint8Array) => Awaited<R>;
  const run = (args: A) => attempt(work, ...args) as Promise<Awaited<R>>;
  const wrapped = async (...args: A): Promise<Awaited<R>> => {
    const key = callKey(opts, args);
    const scope = callScope(opts, engine, key, args);
    const span = engine.telemetry.startSpan('call');
    try {
      const decision = await engine.begin({
        key,
        storeKey: storeKeyOf(scope, key),
        fingerprint: digest(opts.fingerprint ? opts.fingerprint(...args) : args),
        span,
        signal: anySignal(opts.signal),
      });
      switch (decision.outcome) {
        case 'replay':
          return decode(decision.payload);
        case 'fail-open':
          return await run(args);
        case 'conflict':
          throw new IdempotencyKeyInProgressError(
            `A call with key "${key}" is still running; retry later (or set waitForInFlightMs).`,
          );
        case 'mismatch':
          throw new IdempotencyKeyReusedError(
            `Key "${key}" was already used with different arguments; use a new key for a new operation.`,
          );
      }
      return await runClaimed(decision.lease, key, () => run(args), encode);
    } finally {
      span?.end();
    }
  };
  return engine.withEvents(wrapped);
}
