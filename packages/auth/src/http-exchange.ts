import type { Clock } from '@ballast/kernel';

/** The `fetch` a token source uses (the global one, or undici's, or a test double). */
export type FetchLike = (input: string, init: RequestInit) => Promise<Response>;

/** Limits of one HTTP exchange. @internal */
export interface ExchangeLimits {
  readonly fetch: FetchLike;
  readonly timeoutMs: number;
  readonly maxBodyBytes: number;
  readonly clock: Clock;
  readonly signal?: AbortSignal | undefined;
}

/** A complete answer: status, headers and the (size-limited) body text. @internal */
export interface ExchangeResult {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
}

/** Why an exchange produced no answer. @internal */
export class ExchangeError extends Error {
  readonly kind: 'timeout' | 'network' | 'aborted' | 'too_large';
  constructor(kind: ExchangeError['kind'], message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.kind = kind;
  }
}

/**
 * Sends one request and reads the whole answer, whatever its status: aborts after `timeoutMs` on
 * the injected clock (the body read included), follows no redirects, and refuses bodies larger
 * than `maxBodyBytes`. @internal
 */
export async function exchange(
  url: string,
  init: RequestInit,
  limits: ExchangeLimits,
): Promise<ExchangeResult> {
  if (limits.signal?.aborted) {
    throw new ExchangeError('aborted', `${init.method ?? 'GET'} ${url}: aborted`, {
      cause: limits.signal.reason,
    });
  }
  const controller = new AbortController();
  let timedOut = false;
  // Not unref'd: the caller awaits this exchange (and the request's socket is live anyway).
  const timer = limits.clock.setTimeout(() => {
    timedOut = true;
    controller.abort(new Error(`timed out after ${limits.timeoutMs} ms`));
  }, limits.timeoutMs);
  const onAbort = () => controller.abort(limits.signal?.reason);
  limits.signal?.addEventListener('abort', onAbort, { once: true });
  const what = `${init.method ?? 'GET'} ${url}`;
  const failed = (cause: unknown): ExchangeError => {
    if (cause instanceof ExchangeError) return cause;
    if (timedOut) {
      return new ExchangeError('timeout', `${what} timed out after ${limits.timeoutMs} ms`, {
        cause,
      });
    }
    if (limits.signal?.aborted) return new ExchangeError('aborted', `${what}: aborted`, { cause });
    return new ExchangeError('network', `${what} failed: ${(cause as Error)?.message ?? cause}`, {
      cause,
    });
  };
  try {
    const response = await limits.fetch(url, {
      ...init,
      signal: controller.signal,
      redirect: 'error',
    });
    const declared = Number(response.headers.get('content-length') ?? Number.NaN);
    if (declared > limits.maxBodyBytes) {
      await response.body?.cancel().catch(() => {});
      throw tooLarge(what, limits.maxBodyBytes);
    }
    const chunks: Uint8Array[] = [];
    let size = 0;
    if (response.body) {
      const reader = response.body.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        size += value.byteLength;
        if (size > limits.maxBodyBytes) {
          await reader.cancel().catch(() => {});
          throw tooLarge(what, limits.maxBodyBytes);
        }
        chunks.push(value);
      }
    }
    return {
      status: response.status,
      headers: response.headers,
      text: Buffer.concat(chunks, size).toString('utf8'),
    };
  } catch (error) {
    throw failed(error);
  } finally {
    limits.clock.clearTimeout(timer);
    limits.signal?.removeEventListener('abort', onAbort);
  }
}

function tooLarge(what: string, maxBytes: number): ExchangeError {
  return new ExchangeError('too_large', `${what} returned more than ${maxBytes} bytes`);
}
