import { o } from '@ballast/kernel';
import { acceptsWarmth, type Balancer, firstOther } from './balancer.ts';
import { parse } from './options.ts';

/**
 * Each endpoint in turn. Ignores latency and load: use it when instances are identical and
 * requests cost the same; otherwise `p2cPeakEwma()` routes around slow instances.
 */
export function roundRobin(): Balancer {
  parse(o.object({}), undefined, 'roundRobin()');
  let next = 0;
  return {
    name: 'round-robin',
    pick(endpoints, context) {
      const n = endpoints.length;
      if (n === 1) return endpoints[0]!;
      for (let tries = 0; tries < 4; tries++) {
        const candidate = endpoints[next++ % n]!;
        if (next >= 0x3fffffff) next = 0;
        if (candidate !== context.exclude && acceptsWarmth(candidate, context)) return candidate;
      }
      return firstOther(endpoints, context.exclude);
    },
  };
}
