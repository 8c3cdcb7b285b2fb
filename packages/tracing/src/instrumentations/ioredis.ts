import dc from 'node:diagnostics_channel';
import type { Span } from '@opentelemetry/api';
import { api } from '../api.ts';
import type { Runtime, Uninstall } from '../runtime.ts';

const SPAN = Symbol.for('@ballast/tracing.redis-span');

/** The context object ioredis (v6) publishes on its `ioredis:command` tracing channel. */
interface CommandContext {
  command: string;
  args?: string[];
  database?: number;
  serverAddress?: string;
  serverPort?: number;
  error?: unknown;
  [SPAN]?: Span | undefined;
}

/**
 * One CLIENT span per ioredis command, from ioredis 6's own `ioredis:command` tracing channel:
 * no patching, and it works whatever was imported first. (ioredis 5 and older publish nothing;
 * they are not instrumented.)
 */
export function instrumentIoredis(rt: Runtime): Uninstall {
  const otel = api();
  const { tracer, contexts } = rt;
  const clientKind = { kind: otel.SpanKind.CLIENT };
  const channel = dc.tracingChannel<unknown, CommandContext>('ioredis:command');

  const handlers = {
    start(context: CommandContext) {
      try {
        const span = tracer.startSpan(context.command, clientKind, contexts.active());
        if (span.isRecording()) {
          span.setAttribute('db.system.name', 'redis');
          span.setAttribute('db.operation.name', context.command.toUpperCase());
          if (context.args !== undefined)
            span.setAttribute('db.query.text', [context.command, ...context.args].join(' '));
          if (context.database !== undefined)
            span.setAttribute('db.namespace', String(context.database));
          if (context.serverAddress !== undefined)
            span.setAttribute('server.address', context.serverAddress);
          if (context.serverPort !== undefined)
            span.setAttribute('server.port', context.serverPort);
        }
        context[SPAN] = span;
      } catch (error) {
        rt.fault('ioredis start', error);
      }
    },
    end() {},
    asyncStart() {},
    asyncEnd(context: CommandContext) {
      const span = context[SPAN];
      if (span === undefined) return;
      context[SPAN] = undefined;
      span.end();
    },
    error(context: CommandContext) {
      const span = context[SPAN];
      if (span === undefined || !span.isRecording()) return;
      const error = context.error;
      if (error instanceof Error) span.recordException(error);
      span.setStatus({
        code: otel.SpanStatusCode.ERROR,
        message: String((error as Error)?.message ?? error),
      });
    },
  };
  channel.subscribe(handlers);
  return () => channel.unsubscribe(handlers);
}
