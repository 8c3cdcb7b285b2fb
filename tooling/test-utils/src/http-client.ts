import { type OutgoingHttpHeaders, request } from 'node:http';

/** A response as tests read it: status, lower-case headers, the whole body. */
export interface RawResponse {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  /** The body's bytes. */
  readonly body: Buffer;
  /** The body as UTF-8 text. */
  text(): string;
  /** The body parsed as JSON. */
  json(): Record<string, unknown>;
}

/** Options of {@link rawRequest}. */
export interface RawRequestOptions {
  /** The method (default `GET`). */
  method?: string | undefined;
  /**
   * Headers as an object, or as a flat raw list (`['authorization', 'Bearer a', ...]`) so that a
   * test can send the same header twice; a raw list gets a `Host` header added first.
   */
  headers?: Record<string, string | string[]> | readonly string[] | undefined;
  /** The exact body bytes to send. */
  body?: string | Buffer | undefined;
}

/**
 * Sends one request with `node:http` on a fresh connection — so a test controls repeated headers
 * and exact bytes, which `fetch` normalises — and reads the whole response.
 */
export function rawRequest(url: string, options: RawRequestOptions = {}): Promise<RawResponse> {
  const headers: OutgoingHttpHeaders | string[] | undefined = isRawList(options.headers)
    ? ['host', new URL(url).host, ...options.headers]
    : options.headers;
  return new Promise((resolve, reject) => {
    const req = request(url, { method: options.method ?? 'GET', headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body,
          text: () => body.toString('utf8'),
          json: () => JSON.parse(body.toString('utf8')) as Record<string, unknown>,
        });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

function isRawList(headers: RawRequestOptions['headers']): headers is readonly string[] {
  return Array.isArray(headers);
}
