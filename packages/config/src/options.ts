import { type Clock, o, parseOptions } from '@ballast/kernel';
import type * as z from 'zod';
import { InvalidOptionsError } from './errors.ts';
import type { Source } from './source.ts';

const isSource = (value: unknown): boolean =>
  typeof value === 'object' &&
  value !== null &&
  typeof (value as Source).name === 'string' &&
  typeof (value as Source).load === 'function';

const optionsSchema = o.object({
  schema: o.custom<z.ZodType>(
    (v) =>
      typeof v === 'object' &&
      v !== null &&
      typeof (v as { safeParse?: unknown }).safeParse === 'function' &&
      typeof (v as { _zod?: unknown })._zod === 'object',
    'a zod 4 schema (z.object({ … }))',
  ),
  sources: o.array(
    o.custom<Source | readonly Source[]>(
      (v) => isSource(v) || (Array.isArray(v) && v.every(isSource)),
      'a source (file(), env(), …) or an array of sources',
    ),
  ),
  watch: o.boolean().default(true),
  historySize: o.number({ min: 1, max: 10_000, integer: true }).default(20),
  clock: o.clock<Clock>().optional(),
});

/** Validated `createConfig()` options, with sources flattened. */
export interface ParsedConfigOptions {
  readonly schema: z.ZodType;
  readonly sources: readonly Source[];
  readonly watch: boolean;
  readonly historySize: number;
  readonly clock?: Clock | undefined;
}

export function parseConfigOptions(input: unknown): ParsedConfigOptions {
  const parsed = parseOptions(optionsSchema, input, {
    factory: 'createConfig()',
    error: InvalidOptionsError,
  });
  const sources = parsed.sources.flat() as Source[];
  const names = new Set<string>();
  for (const [i, source] of sources.entries()) {
    if (names.has(source.name))
      throw new InvalidOptionsError({
        option: `sources.${i}`,
        message: `createConfig(): option "sources.${i}" must have a name no other source has (got "${source.name}" twice); give each source a distinct name. See the Options table of the package README.`,
        received: source.name,
      });
    names.add(source.name);
  }
  return { ...parsed, sources };
}
