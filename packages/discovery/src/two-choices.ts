import { type PickContext, randomIndex } from './balancer.ts';
import type { Endpoint } from './endpoint.ts';

/**
 * Power of two choices: draws two distinct endpoints other than `context.exclude` and returns the
 * one with the lower `score` (ties: the first drawn). O(1) whatever the number of endpoints.
 */
export function pickOfTwo(
  endpoints: readonly Endpoint[],
  context: PickContext,
  score: (endpoint: Endpoint, other: Endpoint, context: PickContext) => number,
): Endpoint {
  const n = endpoints.length;
  const exclude = context.exclude;
  if (n === 1) return endpoints[0]!;
  if (n === 2) {
    // Random order, so that ties do not always go to the first endpoint.
    const first = Math.random() < 0.5 ? 0 : 1;
    const a = endpoints[first]!;
    const b = endpoints[1 - first]!;
    if (a === exclude) return b;
    if (b === exclude) return a;
    return score(a, b, context) <= score(b, a, context) ? a : b;
  }
  let i = randomIndex(n);
  let a = endpoints[i]!;
  if (a === exclude) {
    i = (i + 1 + randomIndex(n - 1)) % n;
    a = endpoints[i]!;
  }
  let j = (i + 1 + randomIndex(n - 1)) % n;
  let b = endpoints[j]!;
  if (b === exclude) {
    // Skip the excluded one: move to the next index that is neither i nor the excluded one.
    j = (j + 1) % n;
    if (j === i) j = (j + 1) % n;
    b = endpoints[j]!;
  }
  return score(a, b, context) <= score(b, a, context) ? a : b;
}
