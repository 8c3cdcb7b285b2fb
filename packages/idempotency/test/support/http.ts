import { type RawResponse, rawRequest } from '@ballast/test-utils';

/** A response as the tests read it (status, lower-case headers, raw body bytes). */
export type Got = RawResponse;

/**
 * Sends one request with node:http (so a test can send repeated headers and exact bytes) and
 * reads the whole answer; POST unless told.
 */
export function send(
  url: string,
  options: {
    method?: string;
    headers?: Record<string, string | string[]>;
    body?: string | Buffer;
  } = {},
): Promise<Got> {
  return rawRequest(url, { ...options, method: options.method ?? 'POST' });
}

/** A JSON POST with an idempotency key (and optional extra headers). */
export function post(
  url: string,
  key: string | undefined,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<Got> {
  return send(url, {
    headers: {
      'content-type': 'application/json',
      ...(key === undefined ? {} : { 'idempotency-key': key }),
      ...headers,
    },
    body: JSON.stringify(body),
  });
}
