import type { z } from 'zod';
import { AuthError } from './errors.ts';

/**
 * Validates `input` against `schema`; on failure throws `AuthError` `INVALID_OPTIONS` whose
 * message names the offending option (e.g. `clientCredentials: option "retry.attempts" ...`).
 * @internal
 */
export function parseOptions<S extends z.ZodType>(
  where: string,
  schema: S,
  input: unknown,
): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const path = issue && issue.path.length > 0 ? issue.path.map(String).join('.') : '(options)';
  throw new AuthError(
    'INVALID_OPTIONS',
    `${where}: option "${path}" is invalid: ${issue?.message ?? 'invalid value'}. Fix the value passed to ${where}().`,
    { cause: result.error },
  );
}
