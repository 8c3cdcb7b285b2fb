import type { Clock } from '@ballast/kernel';
import { ExchangeError, exchange, type FetchLike } from './http-exchange.ts';

/** Limits of one metadata fetch (JWKS or discovery document). @internal */
export interface FetchJsonLimits {
  readonly timeoutMs: number;
  readonly maxBodyBytes: number;
  readonly clock: Clock;
  readonly signal?: AbortSignal | undefined;
  /** The fetch to use; the global one when absent. */
  readonly fetch?: FetchLike | undefined;
}

/** Why a metadata fetch failed; one word for status, metrics and events. @internal */
export class FetchJsonError extends Error {
  readonly kind: ExchangeError['kind'] | 'status' | 'not_json';
  constructor(kind: FetchJsonError['kind'], message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.kind = kind;
  }
}

/**
 * GETs `url` and parses its JSON body, with the limits of {@link exchange} (timeout on the
 * injected clock, no redirects, bodies over `maxBodyBytes` refused while reading); a non-2xx
 * answer or a body that is not JSON fails too. @internal
 */
export async function fetchJson(url: string, limits: FetchJsonLimits): Promise<unknown> {
  let text: string;
  try {
    const answer = await exchange(
      url,
      { method: 'GET', headers: { accept: 'application/json' } },
      { ...limits, fetch: limits.fetch ?? ((input, init) => fetch(input, init)) },
    );
    if (answer.status < 200 || answer.status > 299) {
      throw new FetchJsonError('status', `GET ${url} answered ${answer.status}`);
    }
    text = answer.text;
  } catch (error) {
    if (error instanceof ExchangeError)
      throw new FetchJsonError(error.kind, error.message, { cause: error });
    throw error;
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (cause) {
    throw new FetchJsonError('not_json', `GET ${url} did not return JSON`, { cause });
  }
}
