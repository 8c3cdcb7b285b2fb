/**
 * Built-in backoff strategies of `retry`:
 * - `constant`: always `initialDelayMs`;
 * - `exponential`: `initialDelayMs * multiplier^(n-1)`;
 * - `full-jitter`: a uniformly random delay in `[0, exponential]` (spreads retries of many
 *   clients; the AWS "full jitter" scheme);
 * - `decorrelated-jitter`: random in `[initialDelayMs, previous * 3]` (the AWS "decorrelated
 *   jitter" scheme).
 * Every delay is capped at `maxDelayMs`.
 */
export type BackoffKind = 'constant' | 'exponential' | 'full-jitter' | 'decorrelated-jitter';

/**
 * A custom backoff: the delay before retry number `retry` (1 for the first retry), given the
 * previous delay (0 before the first retry) and a random number in [0, 1).
 */
export type BackoffFunction = (retry: number, previousDelayMs: number, random: number) => number;

/** The parameters of a built-in backoff. */
export interface BackoffParameters {
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
  readonly multiplier: number;
}

/** The delay before retry number `retry` (1-based), capped at `maxDelayMs`. */
export function backoffDelay(
  kind: BackoffKind | BackoffFunction,
  retry: number,
  previousDelayMs: number,
  random: number,
  { initialDelayMs, maxDelayMs, multiplier }: BackoffParameters,
): number {
  let delay: number;
  switch (kind) {
    case 'constant':
      delay = initialDelayMs;
      break;
    case 'exponential':
      delay = initialDelayMs * multiplier ** (retry - 1);
      break;
    case 'full-jitter':
      delay = random * Math.min(maxDelayMs, initialDelayMs * multiplier ** (retry - 1));
      break;
    case 'decorrelated-jitter': {
      const upper = Math.max(initialDelayMs, (previousDelayMs || initialDelayMs) * 3);
      delay = initialDelayMs + random * (upper - initialDelayMs);
      break;
    }
    default:
      delay = kind(retry, previousDelayMs, random);
  }
  return Number.isFinite(delay) && delay > 0 ? Math.min(delay, maxDelayMs) : 0;
}

/**
 * Parses an HTTP `Retry-After` value (delta-seconds or an HTTP-date) into milliseconds from
 * `nowMs`; `undefined` when it is missing or malformed. A number is taken as milliseconds.
 */
export function parseRetryAfter(value: unknown, nowMs: number): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? value : undefined;
  if (Array.isArray(value)) return parseRetryAfter(value[0], nowMs);
  if (typeof value !== 'string') return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const date = Date.parse(text);
  return Number.isNaN(date) ? undefined : Math.max(0, date - nowMs);
}
