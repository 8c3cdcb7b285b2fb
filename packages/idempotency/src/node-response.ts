import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Attempt, RequestView } from './http.ts';
import type { StoredResponse } from './response.ts';

/** Writes a stored (or problem) response to a Node `ServerResponse`. */
export function writeResponse(res: ServerResponse, response: StoredResponse): void {
  res.statusCode = response.status;
  for (const [name, value] of response.headers) res.setHeader(name, value);
  res.setHeader('content-length', response.body.byteLength);
  res.end(response.body);
}

/**
 * Reads a request body into one buffer (for adapters whose framework did not parse it), or
 * answers undefined — without buffering more — when it is larger than `limit` bytes (declared in
 * `content-length` or as it arrives). The rest of an oversized body is left unread.
 */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > limit) return Promise.resolve(undefined);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.byteLength;
      if (size > limit) {
        cleanup();
        req.pause();
        resolve(undefined);
      } else chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    };
    const onError = (error: Error) => {
      cleanup();
      reject(error);
    };
    const cleanup = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
  });
}

/** The key header's value from Node headers (repeated headers arrive joined, or as an array). */
export function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(', ') : value;
}

/**
 * An AbortSignal that aborts when the response closes (the client went away), so a duplicate that
 * waits for the first request (`waitForInFlightMs`) stops waiting. Only made when waiting is on.
 */
export function closeSignal(waits: boolean, res: ServerResponse): AbortSignal | undefined {
  if (!waits) return undefined;
  const controller = new AbortController();
  res.once('close', () => controller.abort(new Error('the client closed the connection')));
  return controller.signal;
}

/** What {@link nodeView} needs of the core: the key header and whether duplicates wait. */
export interface ViewPolicy {
  /** Lower-case name of the key header. */
  readonly header: string;
  readonly waits: boolean;
}

/** The `RequestView` of a Node request. */
export function nodeView(
  policy: ViewPolicy,
  req: IncomingMessage,
  res: ServerResponse,
  body: unknown,
): RequestView {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  return {
    method: req.method ?? 'GET',
    path: q === -1 ? url : url.slice(0, q),
    key: headerValue(req.headers[policy.header]),
    body,
    signal: closeSignal(policy.waits, res),
  };
}

/** Per-response capture state, kept on the response under a symbol. */
interface Capture {
  readonly attempt: Attempt;
  readonly end: ServerResponse['end'];
  readonly write: ServerResponse['write'];
  readonly writeHead: ServerResponse['writeHead'];
  headHeaders: OutgoingHttpHeaders | undefined;
  /** Why the response cannot be stored (`streamed`), decided before `end()`. */
  unstorable: string | undefined;
  /** The handler's promise settled (node-http only): a close after it releases at once. */
  settled: boolean;
  done: boolean;
}

const CAPTURE = Symbol('@ballast/idempotency.capture');
type Captured = ServerResponse & { [CAPTURE]?: Capture };
type Fn = (...args: unknown[]) => unknown;

// Fast-path invariants of the response capture (change a line here only with these in mind):
//
// 1. Monomorphic patching: `end`, `write` and `writeHead` are replaced by the shared module-level
//    functions below, which find their state on `this[CAPTURE]`; never by a closure per response.
//    One function identity for every response keeps V8's call sites monomorphic (a closure per
//    response measurably slowed every request; see the `fresh` group of bench/idempotency.bench.ts).
// 2. Stored before sent: `capturedEnd` awaits `attempt.finish()` and only then calls the original
//    `end`, so a client that saw a response always gets the same one on retry. Guarded by
//    "runs the handler once and replays status, stored headers and body byte for byte" and
//    "replays a binary body byte for byte" (test/behaviour.test.ts).
// 3. One outcome per response: `capture.done` is set before finishing or releasing, so a close
//    after the end, or an error handler after a release, never settles the attempt twice. Guarded
//    by "keeps the key locked while an abandoned handler runs, then releases it unstored" and
//    "releases the key when the handler throws, so the retry runs" (test/behaviour.test.ts).
// 4. A `write()` makes the response unstorable but keeps the key locked until `end()`. Guarded by
//    "does not store a streamed response, releases the key and says why" (test/behaviour.test.ts).
// 5. Once the response is done (stored or released), the original `end`, `write` and `writeHead`
//    are put back, so the rest of the response (Node's implicit writeHead, the real end) runs
//    unwrapped — but only where the method is still ours: a wrapper added after us (on-headers,
//    compression) stays. Guarded by the behaviour suite (every framework stores and replays) and
//    "keeps a writeHead wrapper added after the capture" (test/behaviour.test.ts).

function fail(res: Captured, reason: string): void {
  const capture = res[CAPTURE];
  if (!capture || capture.done) return;
  capture.done = true;
  void capture.attempt.release(reason);
}

// The client went away before the end: nothing is stored, but the key stays locked until the
// handler ends (it calls end(), throws, or, for node-http, its promise settles), so a retry in
// the meantime gets 409 instead of running alongside the abandoned handler.
function onClose(this: Captured): void {
  const capture = this[CAPTURE];
  if (!capture || capture.done) return;
  if (capture.settled) fail(this, 'connection-lost');
  else capture.attempt.abandon('connection-lost');
}

function capturedWriteHead(this: Captured, ...args: unknown[]): ServerResponse {
  const capture = this[CAPTURE]!;
  const last = args[args.length - 1];
  if (!capture.done && typeof last === 'object' && last !== null) {
    const headers: OutgoingHttpHeaders = {};
    if (Array.isArray(last)) {
      for (let i = 0; i + 1 < last.length; i += 2) headers[String(last[i])] = last[i + 1];
    } else Object.assign(headers, last);
    capture.headHeaders = headers;
  }
  return (capture.writeHead as Fn).apply(this, args) as ServerResponse;
}

function capturedWrite(this: Captured, ...args: unknown[]): boolean {
  const capture = this[CAPTURE]!;
  // Not stored, but the key stays locked until end(): the handler is still running.
  capture.unstorable ??= 'streamed';
  return (capture.write as Fn).apply(this, args) as boolean;
}

/**
 * The stored headers of a Node response: those set with `setHeader` (lower-case names already),
 * overlaid by those passed to `writeHead`, kept when their name is in `names`. One pass over the
 * response's headers, no intermediate entry arrays.
 */
function storedNodeHeaders(
  res: ServerResponse,
  head: OutgoingHttpHeaders | undefined,
  names: ReadonlySet<string>,
): [string, string][] {
  const all = res.getHeaders();
  if (head) for (const name in head) all[name.toLowerCase()] = head[name];
  const picked: [string, string][] = [];
  for (const name in all) {
    const value = all[name];
    if (value === undefined || !names.has(name)) continue;
    picked.push([name, Array.isArray(value) ? value.join(', ') : String(value)]);
  }
  return picked;
}

/** Puts back the methods this capture replaced, unless something wrapped them after us. */
function restore(res: Captured, capture: Capture): void {
  if (res.end === capturedEnd) res.end = capture.end;
  if (res.write === capturedWrite) res.write = capture.write;
  if (res.writeHead === capturedWriteHead) res.writeHead = capture.writeHead;
}

function capturedEnd(this: Captured, ...args: unknown[]): ServerResponse {
  const capture = this[CAPTURE]!;
  if (capture.done) return (capture.end as Fn).apply(this, args) as ServerResponse;
  capture.done = true;
  restore(this, capture);
  const end = () => (capture.end as Fn).apply(this, args);
  if (capture.unstorable !== undefined) {
    void capture.attempt.release(capture.unstorable).finally(end);
    return this;
  }
  const [chunk, encoding] = args;
  const { headHeaders } = capture;
  void capture.attempt
    .finish({
      status: this.statusCode,
      headers: (names) => storedNodeHeaders(this, headHeaders, names),
      body: typeof chunk === 'function' ? undefined : (chunk as string | Uint8Array | undefined),
      encoding: typeof encoding === 'string' ? (encoding as BufferEncoding) : undefined,
    })
    .finally(end);
  return this;
}

/** Marks the response's attempt as failed (a thrown error): the key is released, nothing stored. */
export function failResponse(res: ServerResponse, reason = 'thrown'): void {
  fail(res, reason);
}

/**
 * Tells the capture the handler's promise settled (node-http): if the client already went away
 * and nothing ended the response, the key is released now; a later close releases it at once.
 */
export function settleResponse(res: ServerResponse): void {
  const capture = (res as Captured)[CAPTURE];
  if (!capture) return;
  capture.settled = true;
  if (capture.attempt.abandoned) fail(res as Captured, 'connection-lost');
}

/**
 * Captures what a handler writes to `res`: a single `end(body)` is stored before it is sent; a
 * `write()` (streaming) is not stored and releases the key at `end()`; a connection closed before
 * the end is not stored either, and releases the key once the handler has ended.
 */
export function captureResponse(res: ServerResponse, attempt: Attempt): void {
  const target = res as Captured;
  target[CAPTURE] = {
    attempt,
    end: res.end,
    write: res.write,
    writeHead: res.writeHead,
    headHeaders: undefined,
    unstorable: undefined,
    settled: false,
    done: false,
  };
  res.end = capturedEnd as ServerResponse['end'];
  res.write = capturedWrite as ServerResponse['write'];
  res.writeHead = capturedWriteHead as ServerResponse['writeHead'];
  res.on('close', onClose);
}
