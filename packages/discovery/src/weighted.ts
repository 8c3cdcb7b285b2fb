import { acceptsWarmth, type Balancer, firstOther } from './balancer.ts';
import type { Endpoint } from './endpoint.ts';

/** Vose's alias table: O(1) draws in proportion to the weights. */
interface AliasTable {
  readonly probability: Float64Array;
  readonly alias: Uint32Array;
}

function buildAlias(endpoints: readonly Endpoint[]): AliasTable {
  const n = endpoints.length;
  let total = 0;
  for (const endpoint of endpoints) total += endpoint.instance.weight;
  const scaled = new Float64Array(n);
  for (let i = 0; i < n; i++) scaled[i] = (endpoints[i]!.instance.weight * n) / total;
  const probability = new Float64Array(n);
  const alias = new Uint32Array(n);
  const small: number[] = [];
  const large: number[] = [];
  for (let i = 0; i < n; i++) (scaled[i]! < 1 ? small : large).push(i);
  while (small.length > 0 && large.length > 0) {
    const less = small.pop()!;
    const more = large.pop()!;
    probability[less] = scaled[less]!;
    alias[less] = more;
    scaled[more] = scaled[more]! + scaled[less]! - 1;
    (scaled[more]! < 1 ? small : large).push(more);
  }
  for (const i of large) probability[i] = 1;
  for (const i of small) probability[i] = 1;
  return { probability, alias };
}

/**
 * Random in proportion to each instance's `weight` (from the registry), in O(1) per pick (an
 * alias table built once per change of the list). For fleets of unequal machines.
 */
export function weighted(): Balancer {
  // The resolver builds a new array whenever the candidates change, so the array is the cache key.
  const tables = new WeakMap<readonly Endpoint[], AliasTable>();
  const draw = (endpoints: readonly Endpoint[], table: AliasTable): Endpoint => {
    const column = Math.floor(Math.random() * endpoints.length);
    const index = Math.random() < table.probability[column]! ? column : table.alias[column]!;
    return endpoints[index]!;
  };
  return {
    name: 'weighted',
    pick(endpoints, context) {
      if (endpoints.length === 1) return endpoints[0]!;
      let table = tables.get(endpoints);
      if (table === undefined) {
        table = buildAlias(endpoints);
        tables.set(endpoints, table);
      }
      for (let tries = 0; tries < 6; tries++) {
        const candidate = draw(endpoints, table);
        if (candidate !== context.exclude && acceptsWarmth(candidate, context)) return candidate;
      }
      return firstOther(endpoints, context.exclude);
    },
  };
}
