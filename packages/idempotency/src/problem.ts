import type { IdempotencyErrorCode } from './errors.ts';
import type { StoredResponse } from './response.ts';

const TYPE_BASE =
  'https://github.com/ballast-dev/ballast/blob/main/packages/idempotency/README.md#';

const TITLES: Partial<Record<IdempotencyErrorCode, [number, string]>> = {
  IDEMPOTENCY_KEY_MISSING: [400, 'Idempotency-Key is missing'],
  IDEMPOTENCY_KEY_INVALID: [400, 'Idempotency-Key is invalid'],
  IDEMPOTENCY_KEY_REUSED: [422, 'Idempotency-Key reused with a different request'],
  IDEMPOTENCY_KEY_IN_PROGRESS: [409, 'A request with this Idempotency-Key is in progress'],
  STORE_UNAVAILABLE: [503, 'Idempotency store unavailable'],
  STORE_FULL: [503, 'Idempotency store full'],
  REQUEST_TOO_LARGE: [413, 'Request body too large'],
};

/**
 * An RFC 9457 `application/problem+json` response for one of this package's error codes, with
 * `type`, `title`, `status`, `detail` and the stable `code` as an extension member.
 */
export function problemResponse(
  code: IdempotencyErrorCode,
  detail: string,
  retryAfterSeconds?: number,
): StoredResponse {
  const [status, title] = TITLES[code] ?? [500, 'Idempotency error'];
  const body = Buffer.from(
    JSON.stringify({ type: TYPE_BASE + code.toLowerCase(), title, status, detail, code }),
  );
  const headers: [string, string][] = [['content-type', 'application/problem+json']];
  if (retryAfterSeconds !== undefined) headers.push(['retry-after', String(retryAfterSeconds)]);
  return { status, headers, body };
}
