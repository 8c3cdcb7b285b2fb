import { unrefTimer } from '@ballast/kernel';
import type { SourceContext } from '../source.ts';

/**
 * Waits `ms` on the context's clock, or less if the context aborts (then resolves: the caller
 * checks the signal). Background housekeeping of a watching source: the timer does not keep the
 * process alive. @internal
 */
export function pauseUnlessAborted(context: SourceContext, ms: number): Promise<void> {
  return new Promise<void>((resolve) => {
    if (ms <= 0 || context.signal.aborted) return resolve();
    const done = () => {
      context.signal.removeEventListener('abort', stop);
      resolve();
    };
    const handle = context.clock.setTimeout(done, ms);
    unrefTimer(handle);
    const stop = () => {
      context.clock.clearTimeout(handle);
      resolve();
    };
    context.signal.addEventListener('abort', stop, { once: true });
  });
}
