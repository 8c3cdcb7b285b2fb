import { acceptsWarmth, type Balancer, randomOther } from './balancer.ts';

/** A uniformly random endpoint: no state at all; the baseline the others are measured against. */
export function random(): Balancer {
  return {
    name: 'random',
    pick(endpoints, context) {
      if (endpoints.length === 1) return endpoints[0]!;
      let candidate = randomOther(endpoints, context.exclude);
      for (let tries = 0; tries < 3 && !acceptsWarmth(candidate, context); tries++) {
        candidate = randomOther(endpoints, context.exclude);
      }
      return candidate;
    },
  };
}
