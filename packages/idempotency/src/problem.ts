import type { IdempotencyErrorCode } from './errors.ts';
import type { StoredResponse } from './response.ts';

/**
 * Where each problem `type` points: a heading of the README's "Problem types" section per code,
 * whose GitHub anchor is the code in lower case (`#idempotency_key_reused`). A test checks that
 * every anchor exists in the README.
 */
export const PROBLEM_TYPE_BASE =
  'https://github.com/ballast-dev/ballast/blob/main/packages/idempotency/README.md#';

/** The HTTP status and title of each code the adapters answer with. */
export const PROBLEMS = {
  IDEMPOTENCY_KEY_MISSING: [400, 'Idempotency-Key is missing'],
  IDEMPOTENCY_KEY_INVALID: [400, 'Idempotency-Key is invalid'],
  IDEMPOTENCY_KEY_REUSED: [422, 'Idempotency-Key reused with a different request'],
  IDEMPOTENCY_KEY_IN_PROGRESS: [409, 'A request with this Idempotency-Key is in progress'],
  SCOPE_MISSING: [500, 'Idempotency scope missing'],
  STORE_UNAVAILABLE: [503, 'Idempotency store unavailable'],
  STORE_FULL: [503, 'Idempotency store full'],
  STORE_CLOSED: [503, 'Idempotency store closed'],
  REQUEST_TOO_LARGE: [413, 'Request body too large'],
} as const satisfies Partial<Record<IdempotencyErrorCode, readonly [number, string]>>;

/** A code the HTTP adapters answer with. */
export type ProblemCode = keyof typeof PROBLEMS;

/**
 * An RFC 9457 `application/problem+json` response for one of this package's error codes, with
 * `type`, `title`, `status`, `detail` and the stable `code` as an extension member.
 */
export function problemResponse(
  code: ProblemCode,
  detail: string,
  retryAfterSeconds?: number,
): StoredResponse {
  const [status, title] = PROBLEMS[code];
  const type = PROBLEM_TYPE_BASE + code.toLowerCase();
  const body = Buffer.from(JSON.stringify({ type, title, status, detail, code }));
  const headers: [string, string][] = [['content-type', 'application/problem+json']];
  if (retryAfterSeconds !== undefined) headers.push(['retry-after', String(retryAfterSeconds)]);
  return { status, headers, body };
}
