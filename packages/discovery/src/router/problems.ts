/**
 * What the client sees when the proxy cannot forward: an `application/problem+json` body (RFC 9457)
 * with a stable `code`, the right status, `Retry-After` where waiting helps — and never an internal
 * address, instance id or upstream error message.
 */

/** Stable codes of the answers the router gives instead of an upstream response. */
export type ProxyProblemCode =
  | 'ROUTE_NOT_FOUND'
  | 'BAD_REQUEST_PATH'
  | 'UPGRADE_NOT_SUPPORTED'
  | 'REQUEST_TOO_LARGE'
  | 'RATE_LIMITED'
  | 'BREAKER_OPEN'
  | 'NO_INSTANCE'
  | 'UPSTREAM_UNREACHABLE'
  | 'UPSTREAM_ERROR'
  | 'RESPONSE_TOO_LARGE'
  | 'UPSTREAM_TIMEOUT';

/** One answer, ready to write. */
export interface Problem {
  readonly code: ProxyProblemCode;
  readonly status: number;
  /** Seconds, for `Retry-After`; `undefined` when waiting does not help. */
  readonly retryAfterSeconds: number | undefined;
  /** The JSON body. */
  readonly body: string;
  /** Close the connection after the answer (a request body was left unread). */
  readonly close: boolean;
}

const DOCS = 'https://github.com/ballast-dev/ballast/tree/main/packages/discovery#proxy-errors';

const TEXT: Record<ProxyProblemCode, [status: number, title: string, detail: string]> = {
  ROUTE_NOT_FOUND: [404, 'Not Found', 'No route matches this request.'],
  BAD_REQUEST_PATH: [
    400,
    'Bad Request',
    'The request path contains dot segments ("." or ".."); send a normalised path.',
  ],
  UPGRADE_NOT_SUPPORTED: [
    501,
    'Not Implemented',
    'This gateway does not forward protocol upgrades (WebSocket, h2c); connect to the service directly.',
  ],
  REQUEST_TOO_LARGE: [
    413,
    'Content Too Large',
    'The request body is larger than this route allows.',
  ],
  RATE_LIMITED: [429, 'Too Many Requests', 'The rate limit of this route is reached; retry later.'],
  BREAKER_OPEN: [
    503,
    'Service Unavailable',
    'The upstream service is failing and calls to it are paused; retry later.',
  ],
  NO_INSTANCE: [
    503,
    'Service Unavailable',
    'No instance of the upstream service can take the request now; retry later.',
  ],
  UPSTREAM_UNREACHABLE: [502, 'Bad Gateway', 'The upstream service could not be reached.'],
  UPSTREAM_ERROR: [
    502,
    'Bad Gateway',
    'The upstream service closed the connection or sent an invalid response.',
  ],
  RESPONSE_TOO_LARGE: [
    502,
    'Bad Gateway',
    'The upstream response is larger than this route allows.',
  ],
  UPSTREAM_TIMEOUT: [504, 'Gateway Timeout', 'The upstream service did not answer in time.'],
};

/** The problem for `code`, with `Retry-After` rounded up to whole seconds (at least 1). */
export function problem(
  code: ProxyProblemCode,
  retryAfterMs?: number | undefined,
  close = false,
): Problem {
  const [status, title, detail] = TEXT[code];
  const retryAfterSeconds =
    retryAfterMs === undefined ? undefined : Math.max(1, Math.ceil(retryAfterMs / 1000));
  const body = JSON.stringify({ type: DOCS, title, status, code, detail });
  return { code, status, retryAfterSeconds, body, close: close || code === 'REQUEST_TOO_LARGE' };
}

const CONNECT_CODES = new Set([
  'ECONNREFUSED',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EADDRNOTAVAIL',
  'ENOTFOUND',
  'EAI_AGAIN',
  'UND_ERR_CONNECT_TIMEOUT',
]);

function codeOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}

function retryAfterOf(error: unknown, fallback: number): number {
  const ms = (error as { retryAfterMs?: unknown }).retryAfterMs;
  return typeof ms === 'number' && Number.isFinite(ms) ? ms : fallback;
}

/** Internal reasons the router itself aborts an upstream request with. */
export class ProxyAbort extends Error {
  readonly problem: ProxyProblemCode | undefined;
  constructor(message: string, problemCode?: ProxyProblemCode) {
    super(message);
    this.name = 'AbortError';
    this.problem = problemCode;
  }
}

/** How an error from the upstream call (discovery, breaker, undici) reaches the client. */
export function problemFor(error: unknown): Problem {
  if (error instanceof ProxyAbort && error.problem !== undefined) return problem(error.problem);
  const code = codeOf(error);
  switch (code) {
    case 'BREAKER_OPEN':
    case 'BREAKER_ISOLATED':
      return problem('BREAKER_OPEN', retryAfterOf(error, 5_000));
    case 'RATE_LIMITED':
    case 'BULKHEAD_FULL':
      return problem('RATE_LIMITED', retryAfterOf(error, 1_000));
    case 'RETRY_BUDGET_EXHAUSTED':
      return problemFor((error as { cause?: unknown }).cause);
    case 'NO_INSTANCE_AVAILABLE': {
      // The discovery dispatcher reports "could not connect" as no instance; the cause says which.
      const cause = codeOf((error as { cause?: unknown }).cause);
      if (cause !== undefined && CONNECT_CODES.has(cause)) return problem('UPSTREAM_UNREACHABLE');
      return problem('NO_INSTANCE', retryAfterOf(error, 1_000));
    }
    case 'SERVICE_NOT_FOUND':
    case 'REGISTRY_UNAVAILABLE':
      return problem('NO_INSTANCE', 5_000);
    case 'TIMEOUT':
    case 'UND_ERR_HEADERS_TIMEOUT':
    case 'UND_ERR_BODY_TIMEOUT':
      return problem('UPSTREAM_TIMEOUT');
    case 'UND_ERR_RES_EXCEEDED_MAX_SIZE':
      return problem('RESPONSE_TOO_LARGE');
    default:
      if (code !== undefined && CONNECT_CODES.has(code)) return problem('UPSTREAM_UNREACHABLE');
      return problem('UPSTREAM_ERROR');
  }
}
