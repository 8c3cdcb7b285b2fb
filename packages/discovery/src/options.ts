import { type OptionsContext, parseOptions, type Schema } from '@ballast/kernel';
import { InvalidOptionsError } from './errors.ts';

/** `parseOptions` with this package's error class and README. */
export function parse<T>(schema: Schema<T>, input: unknown, factory: string): T {
  const context: OptionsContext = {
    factory,
    error: InvalidOptionsError,
    docs: 'https://github.com/ballast-dev/ballast/tree/main/packages/discovery#options',
  };
  return parseOptions(schema, input, context);
}
