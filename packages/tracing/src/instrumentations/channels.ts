import dc from 'node:diagnostics_channel';
import type { Uninstall } from '../runtime.ts';

/** Subscribes each handler to its `diagnostics_channel`; the returned function unsubscribes all. */
export function subscribeAll(
  handlers: Readonly<Record<string, (message: unknown) => void>>,
): Uninstall {
  const entries = Object.entries(handlers);
  for (const [channel, handler] of entries) dc.subscribe(channel, handler);
  return () => {
    for (const [channel, handler] of entries) dc.unsubscribe(channel, handler);
  };
}
