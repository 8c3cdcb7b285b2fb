import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Attempt, HttpIdempotency, RequestView } from './http.ts';
import type { StoredResponse } from './response.ts';

/** Writes a stored (or problem) response to a Node `ServerResponse`. */
export function writeResponse(res: ServerResponse, response: StoredResponse): void {
  res.statusCode = response.status;
  for (const [name, value] of response.headers) res.setHeader(name, value);
  res.setHeader('content-length', response.body.byteLength);
  res.end(response.body);
}

/** Reads a request body into one buffer (for adapters whose framework did not parse it). */
export async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** The key header's value from Node headers (repeated headers arrive joined, or as an array). */
export function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(', ') : value;
}

/** The `RequestView` of a Node request. */
export function nodeView(
  core: HttpIdempotency<never>,
  req: IncomingMessage,
  body: unknown,
): RequestView {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  return {
    method: req.method ?? 'GET',
    path: q === -1 ? url : url.slice(0, q),
    key: headerValue(req.headers[core.header]),
    body,
  };
}

const captures = new WeakMap<ServerResponse, (reason: string) => void>();

/** Marks the response's attempt as failed (a thrown error): the key is released, nothing stored. */
export function failResponse(res: ServerResponse, reason = 'thrown'): void {
  captures.get(res)?.(reason);
}

type End = ServerResponse['end'];

/**
 * Captures what a handler writes to `res`: a single `end(body)` is stored before it is sent; a
 * `write()` (streaming) releases the key; a connection closed before the end releases it too.
 */
export function captureResponse(res: ServerResponse, attempt: Attempt): void {
  const { end, write, writeHead } = res;
  let headHeaders: OutgoingHttpHeaders | undefined;
  let done = false;
  const restore = () => {
    res.end = end;
    res.write = write;
    res.writeHead = writeHead;
    captures.delete(res);
  };
  const fail = (reason: string) => {
    if (done) return;
    done = true;
    restore();
    void attempt.release(reason);
  };
  captures.set(res, fail);
  res.on('close', () => fail('connection-lost'));
  res.writeHead = function (this: ServerResponse, ...args: unknown[]) {
    const last = args[args.length - 1];
    if (typeof last === 'object' && last !== null) {
      headHeaders = {};
      const pairs = Array.isArray(last) ? last : Object.entries(last);
      if (Array.isArray(last)) {
        for (let i = 0; i + 1 < pairs.length; i += 2) headHeaders[String(pairs[i])] = pairs[i + 1];
      } else Object.assign(headHeaders, last);
    }
    return (writeHead as (...a: unknown[]) => ServerResponse).apply(this, args);
  } as ServerResponse['writeHead'];
  res.write = function (this: ServerResponse, ...args: unknown[]) {
    fail('streamed');
    return (write as (...a: unknown[]) => boolean).apply(this, args);
  } as ServerResponse['write'];
  res.end = function (this: ServerResponse, ...args: unknown[]) {
    if (done) return (end as (...a: unknown[]) => ServerResponse).apply(this, args);
    done = true;
    restore();
    const [chunk, encoding] = args;
    const body =
      typeof chunk === 'function' ? undefined : (chunk as string | Uint8Array | undefined);
    const headers = { ...res.getHeaders(), ...headHeaders };
    void attempt
      .finish({
        status: res.statusCode,
        headers: Object.entries(headers) as [string, string][],
        body,
        encoding: typeof encoding === 'string' ? (encoding as BufferEncoding) : undefined,
      })
      .finally(() => (end as (...a: unknown[]) => ServerResponse).apply(res, args));
    return res;
  } as End;
}
