import { o } from '@ballast/kernel';
import type { Balancer, PickContext } from './balancer.ts';
import type { Endpoint } from './endpoint.ts';
import { parse } from './options.ts';
import { pickOfTwo } from './two-choices.ts';

/**
 * Power of two choices on requests in flight: of two random endpoints, the one with fewer
 * outstanding requests (Envoy's `LEAST_REQUEST`). Reacts to an instance that stalls, but not to
 * one that is merely slower than the rest while load is light; `p2cPeakEwma()` does both.
 */
export function leastOutstanding(): Balancer {
  parse(o.object({}), undefined, 'leastOutstanding()');
  return {
    name: 'least-outstanding',
    pick(endpoints, context) {
      return pickOfTwo(endpoints, context, score);
    },
  };
}

function score(endpoint: Endpoint, _other: Endpoint, context: PickContext): number {
  return (endpoint.outstanding + 1) / context.warmth(endpoint);
}
