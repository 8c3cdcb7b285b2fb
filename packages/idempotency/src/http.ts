import type { Span } from '@opentelemetry/api';
import { z } from 'zod';
import { Engine, type Lease } from './engine.ts';
import { IdempotencyError, isIdempotencyError } from './errors.ts';
import { digest, storeKeyOf } from './fingerprint.ts';
import { parseIdempotencyKey } from './key.ts';
import { type EngineInput, engineShape, fn, parseOptions } from './options.ts';
import { problemResponse } from './problem.ts';
import {
  bodyBytes,
  decodeResponse,
  encodeResponse,
  type HeaderEntries,
  pickHeaders,
  type StoredResponse,
} from './response.ts';

/** Headers stored with a response and replayed, unless `storeHeaders` says otherwise. */
export const DEFAULT_STORED_HEADERS = [
  'content-type',
  'content-language',
  'content-encoding',
  'content-disposition',
  'location',
  'etag',
  'last-modified',
  'cache-control',
  'link',
];

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

const httpSchema = z
  .object({
    ...engineShape,
    headerName: z.string().regex(TOKEN, 'expected an HTTP header name').default('Idempotency-Key'),
    methods: z
      .array(z.string().regex(TOKEN, 'expected HTTP method names'))
      .default(['POST', 'PATCH'])
      .transform((methods) => methods.map((m) => m.toUpperCase())),
    required: z.boolean().default(true),
    scope: fn<(req: never) => unknown>().optional(),
    fingerprint: fn<(req: never, body: unknown) => unknown>().optional(),
    maxBodyBytes: z.number().int().nonnegative().default(1_048_576),
    maxRequestBodyBytes: z.number().int().positive().default(1_048_576),
    storeHeaders: z
      .array(z.string().regex(TOKEN, 'expected HTTP header names'))
      .default(DEFAULT_STORED_HEADERS),
    storeServerErrors: z.boolean().default(true),
    retryAfterSeconds: z.number().int().nonnegative().default(1),
  })
  .strict();

/** Options of the HTTP middleware of every adapter; `Req` is the framework's request (or context). */
export interface IdempotencyOptions<Req = unknown> extends EngineInput {
  /** Request header carrying the key. Default `Idempotency-Key`. */
  headerName?: string;
  /** Methods that are covered; others pass through untouched. Default `['POST', 'PATCH']`. */
  methods?: string[];
  /** true (default): a covered request without a key gets 400. false: it passes through. */
  required?: boolean;
  /** Server-side namespace of keys (user id, tenant, …) so one client never sees another's responses. */
  scope?: (
    req: Req,
  ) => string | number | undefined | null | Promise<string | number | undefined | null>;
  /** What identifies "the same request". Default: method, path and body. Return any value; it is digested. */
  fingerprint?: (req: Req, body: unknown) => unknown;
  /** Largest response body stored (bytes); larger responses are sent but not stored. Default 1 MiB. */
  maxBodyBytes?: number;
  /**
   * Largest request body an adapter reads itself (node-http always; Express and Koa without a body
   * parser; fetch/Hono): a larger one gets 413 `REQUEST_TOO_LARGE` without claiming the key.
   * Default 1 MiB.
   */
  maxRequestBodyBytes?: number;
  /** Response headers stored and replayed (case-insensitive). Default: content-*, location, etag, … */
  storeHeaders?: string[];
  /** Store 5xx responses too (Stripe does). false releases the key so a retry runs again. Default true. */
  storeServerErrors?: boolean;
  /** Retry-After (seconds) sent with 409 and 503. Default 1. */
  retryAfterSeconds?: number;
}

/** What an adapter reads from the request. */
export interface RequestView {
  readonly method: string;
  /** Path without the query string. */
  readonly path: string;
  /** Value of the key header (repeated headers joined by `, `), or undefined. */
  readonly key: string | undefined;
  /** Parsed body, raw bytes, or undefined. */
  readonly body: unknown;
  readonly signal?: AbortSignal;
}

/** What an adapter does next. */
export type Begin =
  | { readonly kind: 'pass' }
  | { readonly kind: 'respond'; readonly response: StoredResponse }
  | { readonly kind: 'execute'; readonly attempt: Attempt };

/** A response the handler produced, as the adapter captured it. */
export interface CapturedResponse {
  readonly status: number;
  readonly headers: HeaderEntries;
  readonly body: string | Uint8Array | undefined | null;
  readonly encoding?: BufferEncoding;
}

/** One execution of a handler under a held lock. */
export class Attempt {
  readonly #core: HttpIdempotency<never>;
  readonly #lease: Lease;
  readonly #span: Span;
  #abandoned: string | undefined;

  constructor(core: HttpIdempotency<never>, lease: Lease, span: Span) {
    this.#core = core;
    this.#lease = lease;
    this.#span = span;
  }

  /** Aborted when the attempt ends early (lock lost, connection lost). */
  get signal(): AbortSignal {
    return this.#lease.signal;
  }

  /** True once {@link abandon} was called: the response will not be stored. */
  get abandoned(): boolean {
    return this.#abandoned !== undefined;
  }

  /**
   * The client went away while the handler runs: nothing will be stored, but the key stays locked
   * (and extended) until the adapter calls `finish` or `release` when the handler has ended.
   */
  abandon(reason = 'connection-lost'): void {
    if (this.#abandoned !== undefined) return;
    this.#abandoned = reason;
    this.#lease.abandon(reason);
  }

  /** Stores the response (or releases the key when it may not be stored). */
  async finish(response: CapturedResponse): Promise<void> {
    if (this.#abandoned !== undefined) return this.release(this.#abandoned);
    const { maxBodyBytes, storeServerErrors } = this.#core.options;
    const body = bodyBytes(response.body, response.encoding);
    if (body.byteLength > maxBodyBytes) return this.release('too-large');
    if (response.status >= 500 && !storeServerErrors) return this.release('server-error');
    const headers = pickHeaders(response.headers, this.#core.storedHeaders);
    await this.#lease.complete(encodeResponse({ status: response.status, headers, body }));
    this.#span.end();
  }

  /** Releases the key without storing (`thrown`, `streamed`, `connection-lost`, …). */
  async release(reason: string): Promise<void> {
    await this.#lease.release(this.#abandoned ?? reason);
    this.#span.end();
  }
}

/**
 * The framework-independent HTTP core every adapter maps to: validates the key, fingerprints the
 * request, claims it, and tells the adapter to pass, respond (problem or replay) or execute.
 */
export class HttpIdempotency<Req> {
  readonly options: z.output<typeof httpSchema>;
  readonly engine: Engine;
  /** Lower-case name of the key header. */
  readonly header: string;
  readonly storedHeaders: ReadonlySet<string>;
  readonly #methods: ReadonlySet<string>;

  constructor(options: IdempotencyOptions<Req>, owner = 'idempotency()') {
    this.options = parseOptions(httpSchema, options, owner);
    this.engine = new Engine(this.options);
    this.header = this.options.headerName.toLowerCase();
    this.storedHeaders = new Set(this.options.storeHeaders.map((h) => h.toLowerCase()));
    this.#methods = new Set(this.options.methods);
  }

  /** The 413 answer for a request body over `maxRequestBodyBytes` (the key is not claimed). */
  tooLarge(): StoredResponse {
    this.engine.emit({}, { type: 'rejected', reason: 'body-too-large' });
    const limit = this.options.maxRequestBodyBytes;
    const detail = `The request body is larger than ${limit} bytes, the limit of this endpoint; send a smaller body.`;
    const response = problemResponse('REQUEST_TOO_LARGE', detail);
    // The rest of the upload is not read: close the connection after answering.
    return { ...response, headers: [...response.headers, ['connection', 'close']] };
  }

  /** Decides what to do with one request. Never throws for store failures (503 or pass). */
  async begin(req: Req, view: RequestView): Promise<Begin> {
    if (!this.#methods.has(view.method.toUpperCase())) return { kind: 'pass' };
    const { headerName, required, retryAfterSeconds } = this.options;
    const engine = this.engine;
    if (view.key === undefined) {
      if (!required) return { kind: 'pass' };
      engine.emit({}, { type: 'rejected', reason: 'missing' });
      const detail = `This endpoint requires an ${headerName} header; send a unique key (a UUID v4) per operation and reuse it when you retry.`;
      return { kind: 'respond', response: problemResponse('IDEMPOTENCY_KEY_MISSING', detail) };
    }
    let key: string;
    try {
      key = parseIdempotencyKey(view.key, headerName);
    } catch (error) {
      engine.emit({}, { type: 'rejected', reason: 'invalid' });
      return {
        kind: 'respond',
        response: problemResponse('IDEMPOTENCY_KEY_INVALID', (error as Error).message),
      };
    }
    const span = engine.telemetry.startSpan(view.method);
    const scope = this.options.scope
      ? await (this.options.scope as (r: Req) => unknown)(req)
      : undefined;
    const body = view.body;
    const print = this.options.fingerprint
      ? (this.options.fingerprint as (r: Req, b: unknown) => unknown)(req, body)
      : [view.method.toUpperCase(), view.path, body];
    const input = {
      key,
      storeKey: storeKeyOf(scope === undefined || scope === null ? '' : String(scope), key),
      fingerprint: digest(print),
      span,
      signal: view.signal,
    };
    try {
      const decision = await engine.begin(input);
      switch (decision.outcome) {
        case 'execute':
          return {
            kind: 'execute',
            attempt: new Attempt(this as HttpIdempotency<never>, decision.lease, span),
          };
        case 'fail-open':
          span.end();
          return { kind: 'pass' };
        case 'replay': {
          span.end();
          const stored = decodeResponse(decision.payload);
          const headers = [...stored.headers, ['idempotent-replayed', 'true'] as const];
          return { kind: 'respond', response: { ...stored, headers } };
        }
        case 'conflict':
          span.end();
          return {
            kind: 'respond',
            response: problemResponse(
              'IDEMPOTENCY_KEY_IN_PROGRESS',
              `A request with this ${headerName} is still being processed; retry after it completes to get its response.`,
              retryAfterSeconds,
            ),
          };
        case 'mismatch':
          span.end();
          return {
            kind: 'respond',
            response: problemResponse(
              'IDEMPOTENCY_KEY_REUSED',
              `This ${headerName} was already used with a different request (method, path or body); use a new key for a new operation.`,
            ),
          };
      }
    } catch (error) {
      span.end();
      if (!isIdempotencyError(error) || error.code === 'ABORTED') throw error;
      const detail = `${(error as IdempotencyError).message} Retry later.`;
      return { kind: 'respond', response: problemResponse(error.code, detail, retryAfterSeconds) };
    }
  }
}

/** Builds the HTTP core (validating options) — what every adapter calls first. */
export function createHttpIdempotency<Req>(
  options: IdempotencyOptions<Req>,
  owner?: string,
): HttpIdempotency<Req> {
  if (typeof options !== 'object' || options === null) {
    throw new IdempotencyError(
      'INVALID_OPTIONS',
      `Invalid option \`(options)\` of ${owner ?? 'idempotency()'}: expected an object with at least a store.`,
    );
  }
  return new HttpIdempotency(options, owner);
}
