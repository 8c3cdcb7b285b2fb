import { type Clock, schedule } from './clock.ts';

/** Limits of one metadata fetch (JWKS or discovery document). @internal */
export interface FetchJsonLimits {
  readonly timeoutMs: number;
  readonly maxBodyBytes: number;
  readonly clock: Clock;
  readonly signal?: AbortSignal | undefined;
}

/** Why a metadata fetch failed; one word for status, metrics and events. @internal */
export class FetchJsonError extends Error {
  readonly kind: 'timeout' | 'network' | 'status' | 'too_large' | 'not_json' | 'aborted';
  constructor(kind: FetchJsonError['kind'], message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.kind = kind;
  }
}

/**
 * GETs `url` and parses its JSON body: aborts after `timeoutMs` (on the injected clock), refuses
 * redirects, non-2xx answers and bodies larger than `maxBodyBytes` (read incrementally, so a
 * huge or endless body costs at most that much memory). @internal
 */
export async function fetchJson(url: string, limits: FetchJsonLimits): Promise<unknown> {
  const controller = new AbortController();
  let timedOut = false;
  const cancel = schedule(
    limits.clock,
    () => {
      timedOut = true;
      controller.abort();
    },
    limits.timeoutMs,
  );
  const onAbort = () => controller.abort();
  limits.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    if (limits.signal?.aborted) throw new FetchJsonError('aborted', 'the caller aborted');
    let response: Response;
    try {
      response = await fetch(url, {
        signal: controller.signal,
        redirect: 'error',
        headers: { accept: 'application/json' },
      });
    } catch (cause) {
      throw failure(timedOut, limits.signal, 'network', `GET ${url} failed`, cause);
    }
    if (!response.ok) {
      await response.body?.cancel().catch(() => {});
      throw new FetchJsonError('status', `GET ${url} answered ${response.status}`);
    }
    const text = await readLimited(response, limits.maxBodyBytes, url, () => timedOut, limits);
    try {
      return JSON.parse(text) as unknown;
    } catch (cause) {
      throw new FetchJsonError('not_json', `GET ${url} did not return JSON`, { cause });
    }
  } finally {
    cancel();
    limits.signal?.removeEventListener('abort', onAbort);
  }
}

async function readLimited(
  response: Response,
  maxBytes: number,
  url: string,
  timedOut: () => boolean,
  limits: FetchJsonLimits,
): Promise<string> {
  const declared = Number(response.headers.get('content-length') ?? Number.NaN);
  if (declared > maxBytes) {
    await response.body?.cancel().catch(() => {});
    throw tooLarge(url, maxBytes);
  }
  if (!response.body) return '';
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > maxBytes) {
        await reader.cancel().catch(() => {});
        throw tooLarge(url, maxBytes);
      }
      chunks.push(value);
    }
  } catch (cause) {
    if (cause instanceof FetchJsonError) throw cause;
    throw failure(timedOut(), limits.signal, 'network', `reading ${url} failed`, cause);
  }
  return Buffer.concat(chunks, size).toString('utf8');
}

function tooLarge(url: string, maxBytes: number): FetchJsonError {
  return new FetchJsonError('too_large', `GET ${url} returned more than ${maxBytes} bytes`);
}

function failure(
  timedOut: boolean,
  signal: AbortSignal | undefined,
  kind: 'network',
  message: string,
  cause: unknown,
): FetchJsonError {
  if (timedOut) return new FetchJsonError('timeout', `${message}: timed out`, { cause });
  if (signal?.aborted) return new FetchJsonError('aborted', `${message}: aborted`, { cause });
  return new FetchJsonError(kind, message, { cause });
}
