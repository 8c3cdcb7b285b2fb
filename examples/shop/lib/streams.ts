/**
 * Redis Streams with the trace context in the message and idempotent consumers.
 *
 * Producer: `XADD <stream> * id <key> type <type> data <json> traceparent … tracestate … at <ms>`
 * inside a producer span (`inject()` writes the W3C fields). Consumer: `XREADGROUP` in a loop, one
 * consumer span per message whose parent is `extract()`ed from the message, the handler run through
 * `idempotent()` keyed by the message's `id` (a redelivery never acts twice), `XACK` after it.
 * Pending entries idle for 30 s (a consumer died mid-way) are claimed again with `XAUTOCLAIM`.
 */
import { type IdempotencyStore, idempotent, isIdempotencyError } from '@ballast/idempotency';
import { sleep } from '@ballast/kernel';
import { extract, inject, withSpan } from '@ballast/tracing';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { quiet } from './quiet.ts';

export const SHIPMENTS_STREAM = 'shop:stream:shipments';
export const NOTIFICATIONS_STREAM = 'shop:stream:notifications';

export interface StreamMessage<T = Record<string, unknown>> {
  /** Idempotency key of the message. */
  id: string;
  type: string;
  data: T;
  /** Producer time, ms since epoch. */
  at: number;
}

/** Publishes one message, carrying the active trace context. Returns the stream entry id. */
export function publish(
  redis: Redis,
  stream: string,
  message: Omit<StreamMessage, 'at'>,
): Promise<string> {
  return withSpan(
    `${stream} publish`,
    async () => {
      const carrier = inject({}) as Record<string, string>;
      const fields: string[] = [
        'id',
        message.id,
        'type',
        message.type,
        'data',
        JSON.stringify(message.data),
      ];
      for (const name of ['traceparent', 'tracestate'] as const) {
        if (carrier[name]) fields.push(name, carrier[name]);
      }
      fields.push('at', String(Date.now()));
      return (await redis.xadd(stream, 'MAXLEN', '~', '100000', '*', ...fields)) ?? '';
    },
    {
      kind: 'producer',
      attributes: {
        'messaging.system': 'redis',
        'messaging.destination.name': stream,
        'messaging.message.id': message.id,
      },
    },
  );
}

export interface ConsumerOptions<T> {
  redis: Redis;
  stream: string;
  group: string;
  consumer: string;
  store: IdempotencyStore;
  log: Logger;
  handler: (message: StreamMessage<T>) => Promise<unknown>;
  signal: AbortSignal;
  /** Idle time after which another consumer takes a pending entry over. Default 30 s. */
  claimIdleMs?: number | undefined;
}

export interface Consumer {
  processed(): number;
  duplicates(): number;
  /** Resolves when the loop has stopped (after the signal aborted). */
  stopped: Promise<void>;
}

type Entry = [id: string, fields: string[]];

function fieldsOf(raw: string[]): Record<string, string> {
  const fields: Record<string, string> = {};
  for (let i = 0; i + 1 < raw.length; i += 2) fields[raw[i] as string] = raw[i + 1] as string;
  return fields;
}

/** Starts a consumer-group loop on its own connection (a blocking read must not hold the shared one). */
export function consume<T>(options: ConsumerOptions<T>): Consumer {
  const { stream, group, consumer, log, signal } = options;
  const reader = options.redis.duplicate();
  let processed = 0;
  let duplicates = 0;
  let runs = 0;

  const handle = idempotent(
    async (message: StreamMessage<T>) => {
      runs++;
      return (await options.handler(message)) ?? null;
    },
    {
      store: options.store,
      key: (message) => message.id,
      fingerprint: (message) => message.id,
      lockTtlMs: 30_000,
    },
  );

  const process1 = async (entryId: string, raw: string[]): Promise<void> => {
    const fields = fieldsOf(raw);
    let message: StreamMessage<T>;
    try {
      message = {
        id: fields.id ?? entryId,
        type: fields.type ?? 'unknown',
        data: JSON.parse(fields.data ?? '{}'),
        at: Number(fields.at),
      };
    } catch (error) {
      log.error({ err: error, entryId }, 'malformed message: acknowledged and dropped');
      await options.redis.xack(stream, group, entryId);
      return;
    }
    await withSpan(
      `${stream} process`,
      async () => {
        const before = runs;
        try {
          await handle(message);
        } catch (error) {
          if (isIdempotencyError(error, 'IDEMPOTENCY_KEY_IN_PROGRESS')) return; // another consumer has it
          log.warn(
            { err: error, messageId: message.id },
            'handler failed: the entry stays pending',
          );
          return;
        }
        if (runs === before) duplicates++;
        processed++;
        await options.redis.xack(stream, group, entryId);
      },
      {
        kind: 'consumer',
        parent: extract(fields),
        attributes: {
          'messaging.system': 'redis',
          'messaging.destination.name': stream,
          'messaging.message.id': message.id,
        },
      },
    );
  };

  const loop = async () => {
    try {
      await options.redis.xgroup('CREATE', stream, group, '0', 'MKSTREAM');
    } catch (error) {
      if (!String((error as Error).message).includes('BUSYGROUP')) throw error;
    }
    let lastClaim = 0;
    while (!signal.aborted) {
      try {
        if (Date.now() - lastClaim > 5000) {
          lastClaim = Date.now();
          const claimed = (await quiet(() =>
            reader.xautoclaim(
              stream,
              group,
              consumer,
              options.claimIdleMs ?? 30_000,
              '0-0',
              'COUNT',
              50,
            ),
          )) as [string, Entry[]];
          for (const [entryId, raw] of claimed[1] ?? []) if (raw) await process1(entryId, raw);
        }
        const read = (await quiet(() =>
          reader.xreadgroup(
            'GROUP',
            group,
            consumer,
            'COUNT',
            50,
            'BLOCK',
            1000,
            'STREAMS',
            stream,
            '>',
          ),
        )) as [string, Entry[]][] | null;
        for (const [, entries] of read ?? []) {
          for (const [entryId, raw] of entries) await process1(entryId, raw);
        }
      } catch (error) {
        if (signal.aborted) break;
        log.warn({ err: error }, `${stream}: read failed, retrying`);
        await sleep(500);
      }
    }
  };

  const stopped = loop()
    .catch((error: unknown) => log.error({ err: error }, `${stream}: consumer stopped`))
    .finally(() => reader.disconnect());
  return { processed: () => processed, duplicates: () => duplicates, stopped };
}
