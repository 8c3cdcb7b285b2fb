import type { FastifyRequest } from 'fastify';
import type { Context } from 'koa';
import { describe, expectTypeOf, it } from 'vitest';
import { idempotency as expressIdempotency } from '../src/adapters/express.ts';
import { idempotency as fastifyIdempotency } from '../src/adapters/fastify.ts';
import { idempotency as fetchIdempotency } from '../src/adapters/fetch.ts';
import { idempotency as koaIdempotency } from '../src/adapters/koa.ts';
import { idempotency as nodeIdempotency } from '../src/adapters/node-http.ts';
import {
  type Clock,
  type IdempotencyError,
  type IdempotencyEvent,
  type IdempotencyKeyInProgressError,
  type IdempotencyOptions,
  type InvalidOptionsError,
  idempotent,
  isIdempotencyError,
  memoryStore,
  type ResultNotEncodableError,
  redisStore,
  type ScopeMissingError,
  type StoreUnavailableError,
  type Subscription,
} from '../src/index.ts';

// Type-level tests: checked by `npm run typecheck` (this package compiles with
// exactOptionalPropertyTypes), and run as no-ops by vitest.

declare const maybeNumber: number | undefined;
declare const maybeBoolean: boolean | undefined;
declare const maybeClock: Clock | undefined;
declare const maybeSignal: AbortSignal | undefined;
declare const maybeString: string | undefined;

describe('types', () => {
  it('every optional option accepts undefined (exactOptionalPropertyTypes)', () => {
    // Type-checked, not run: the `maybe…` values exist only as declarations.
    const calls = () => {
      const store = memoryStore({ maxKeys: maybeNumber, clock: maybeClock });
      const options: IdempotencyOptions = {
        store,
        lockTtlMs: maybeNumber,
        retentionMs: maybeNumber,
        waitForInFlightMs: maybeNumber,
        pollIntervalMs: maybeNumber,
        failOpen: maybeBoolean,
        clock: maybeClock,
        headerName: maybeString,
        methods: undefined,
        required: maybeBoolean,
        scope: undefined,
        fingerprint: undefined,
        maxBodyBytes: maybeNumber,
        maxRequestBodyBytes: maybeNumber,
        storeHeaders: undefined,
        storeServerErrors: maybeBoolean,
        retryAfterSeconds: maybeNumber,
      };
      void options;
      void idempotent(async (id: string) => id, {
        store,
        key: (id) => id,
        scope: undefined,
        fingerprint: undefined,
        encode: undefined,
        decode: undefined,
        signal: maybeSignal,
        lockTtlMs: maybeNumber,
      });
      void redisStore({
        url: maybeString,
        client: undefined,
        prefix: maybeString,
        operationTimeoutMs: maybeNumber,
      });
    };
    expectTypeOf(calls).toBeFunction();
  });

  it('the guard narrows to the class of the code, without a cast', () => {
    const error: unknown = new Error('x');
    if (isIdempotencyError(error, 'INVALID_OPTIONS')) {
      expectTypeOf(error).toEqualTypeOf<InvalidOptionsError>();
      expectTypeOf(error.option).toEqualTypeOf<string>();
      expectTypeOf(error.received).toEqualTypeOf<unknown>();
    }
    if (isIdempotencyError(error, 'SCOPE_MISSING'))
      expectTypeOf(error).toEqualTypeOf<ScopeMissingError>();
    if (isIdempotencyError(error, 'RESULT_NOT_ENCODABLE'))
      expectTypeOf(error).toEqualTypeOf<ResultNotEncodableError>();
    if (isIdempotencyError(error, 'STORE_UNAVAILABLE'))
      expectTypeOf(error).toEqualTypeOf<StoreUnavailableError>();
    if (isIdempotencyError(error, 'IDEMPOTENCY_KEY_IN_PROGRESS'))
      expectTypeOf(error).toEqualTypeOf<IdempotencyKeyInProgressError>();
    if (isIdempotencyError(error)) {
      expectTypeOf(error).toExtend<IdempotencyError>();
      expectTypeOf(error.code).toEqualTypeOf<IdempotencyError['code']>();
    }
  });

  it('each adapter types scope and fingerprint with its own request', () => {
    expressIdempotency({ store: memoryStore(), scope: (req) => req.get('x') });
    koaIdempotency({ store: memoryStore(), scope: (ctx) => ctx.state.user as string });
    fetchIdempotency({ store: memoryStore(), scope: (req) => req.headers.get('x') });
    nodeIdempotency(() => {}, { store: memoryStore(), scope: (req) => req.headers.host });
    expectTypeOf<Parameters<typeof fastifyIdempotency>[1]>().toExtend<
      IdempotencyOptions<FastifyRequest>
    >();
    expectTypeOf<Parameters<typeof koaIdempotency>[0]['scope']>().toEqualTypeOf<
      IdempotencyOptions<Context>['scope']
    >();
  });

  it('every middleware, and idempotent(), has onEvent(listener): Subscription', () => {
    const store = memoryStore();
    const listener = (event: IdempotencyEvent) => void event.type;
    expectTypeOf(expressIdempotency({ store }).onEvent(listener)).toEqualTypeOf<Subscription>();
    expectTypeOf(koaIdempotency({ store }).onEvent(listener)).toEqualTypeOf<Subscription>();
    expectTypeOf(fetchIdempotency({ store }).onEvent(listener)).toEqualTypeOf<Subscription>();
    expectTypeOf(
      fetchIdempotency(async () => new Response(), { store }).onEvent(listener),
    ).toEqualTypeOf<Subscription>();
    expectTypeOf(
      nodeIdempotency(() => {}, { store }).onEvent(listener),
    ).toEqualTypeOf<Subscription>();
    expectTypeOf(fastifyIdempotency({ store }).onEvent(listener)).toEqualTypeOf<Subscription>();
    expectTypeOf(
      idempotent(async (id: string) => id, { store, key: (id) => id }).onEvent(listener),
    ).toEqualTypeOf<Subscription>();
    // The listener receives the event type.
    idempotent(async (id: string) => id, { store, key: (id) => id }).onEvent((event) => {
      expectTypeOf(event).toEqualTypeOf<IdempotencyEvent>();
    });
  });
});
