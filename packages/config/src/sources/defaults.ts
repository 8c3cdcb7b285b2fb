import type { Source } from '../source.ts';

/**
 * The schema's own defaults (`.default(…)`) as the first, explicit layer. Optional: the schema
 * applies its defaults anyway; listing it makes the layering visible and lets a later source's
 * partial object merge over the defaults of its siblings.
 *
 * ```ts
 * import { defaults } from '@ballast/config';
 * const base = defaults();
 * ```
 */
export function defaults(): Source {
  return {
    name: 'defaults',
    async load(context) {
      return { values: context.schema.defaults() };
    },
  };
}
