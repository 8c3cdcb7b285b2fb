import { o } from '@ballast/kernel';
import { type Decision, Engine, type Lease } from './engine.ts';
import { isIdempotencyError } from './errors.ts';
import { digest, storeKeyOf } from './fingerprint.ts';
import { parseIdempotencyKey, rememberKey } from './key.ts';
import { type EngineInput, engineShape, parse } from './options.ts';
import { type ProblemCode, problemResponse } from './problem.ts';
import {
  bodyLength,
  decodeResponse,
  encodeParts,
  type HeaderEntries,
  pickHeaders,
  type StoredResponse,
} from './response.ts';
import { completesText } from './store.ts';
import type { TelemetrySpan } from './telemetry.ts';

/** Headers stored with a response and replayed, unless `storeHeaders` says otherwise. */
export const DEFAULT_STORED_HEADERS: readonly string[] = Object.freeze([
  'content-type',
  'content-language',
  'content-encoding',
  'content-disposition',
  'location',
  'etag',
  'last-modified',
  'cache-control',
  'link',
]);

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const token = (expected: string) => o.string({ pattern: { regex: TOKEN, expected } });

/** What a `scope` function may return; nothing (undefined, null, '') refuses the request. */
export type ScopeValue = string | number | undefined | null;

function httpSchema<Req>() {
  return o.object({
    ...engineShape,
    headerName: token('an HTTP header name').default('Idempotency-Key'),
    methods: o.array(token('an HTTP method name')).default(['POST', 'PATCH']),
    required: o.boolean().default(true),
    scope: o.fn<(req: Req) => ScopeValue | Promise<ScopeValue>>().optional(),
    fingerprint: o.fn<(req: Req, body: unknown) => unknown>().optional(),
    maxBodyBytes: o.integer({ min: 0 }).default(1_048_576),
    maxRequestBodyBytes: o.integer({ min: 1 }).default(1_048_576),
    storeHeaders: o.array(token('an HTTP header name')).default([...DEFAULT_STORED_HEADERS]),
    storeServerErrors: o.boolean().default(true),
    retryAfterSeconds: o.integer({ min: 0 }).default(1),
  });
}

/** Options of the HTTP middleware of every adapter; `Req` is the framework's request (or context). */
export interface IdempotencyOptions<Req = unknown> extends EngineInput {
  /** Request header carrying the key. Default `Idempotency-Key`. */
  headerName?: string | undefined;
  /** Methods that are covered; others pass through untouched. Default `['POST', 'PATCH']`. */
  methods?: string[] | undefined;
  /** true (default): a covered request without a key gets 400. false: it passes through. */
  required?: boolean | undefined;
  /**
   * Server-side namespace of keys, from something the server verified (the authenticated
   * subject, a tenant from the token) so one client never sees another's responses. When set and
   * it returns nothing (undefined, null or ''), the request is refused with
   * `500 SCOPE_MISSING` instead of sharing one scope between every caller.
   */
  scope?: ((req: Req) => ScopeValue | Promise<ScopeValue>) | undefined;
  /** What identifies "the same request". Default: method, path and body. Return any value; it is digested. */
  fingerprint?: ((req: Req, body: unknown) => unknown) | undefined;
  /** Largest response body stored (bytes); larger responses are sent but not stored. Default 1 MiB. */
  maxBodyBytes?: number | undefined;
  /**
   * Largest request body an adapter reads itself (node-http always; Express and Koa without a body
   * parser; fetch/Hono): a larger one gets 413 `REQUEST_TOO_LARGE` without claiming the key.
   * Default 1 MiB.
   */
  maxRequestBodyBytes?: number | undefined;
  /** Response headers stored and replayed (case-insensitive). Default: content-*, location, etag, … */
  storeHeaders?: string[] | undefined;
  /** Store 5xx responses too (Stripe does). false releases the key so a retry runs again. Default true. */
  storeServerErrors?: boolean | undefined;
  /** Retry-After (seconds) sent with 409 and 503. Default 1. */
  retryAfterSeconds?: number | undefined;
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
  readonly signal?: AbortSignal | undefined;
}

/** What an adapter does next. */
export type Begin =
  | { readonly kind: 'pass' }
  | { readonly kind: 'respond'; readonly response: StoredResponse }
  | { readonly kind: 'execute'; readonly attempt: Attempt };

const PASS: Begin = Object.freeze({ kind: 'pass' });

/** A response the handler produced, as the adapter captured it. */
export interface CapturedResponse {
  readonly status: number;
  /**
   * Its headers, or a function that answers the stored ones (lower-case names among `names`,
   * string values), called only when the response is stored.
   */
  readonly headers: HeaderEntries | ((names: ReadonlySet<string>) => [string, string][]);
  readonly body: string | Uint8Array | undefined | null;
  readonly encoding?: BufferEncoding | undefined;
}

/** What an {@link Attempt} needs to decide whether and what to store. */
export interface StorePolicy {
  readonly maxBodyBytes: number;
  readonly storeServerErrors: boolean;
  /** Lower-case names of the headers stored. */
  readonly storedHeaders: ReadonlySet<string>;
  /** The store takes text payloads: a UTF-8 body given as bytes is handed over as text. */
  readonly textPayloads: boolean;
}

/** One execution of a handler under a held lock. */
export class Attempt {
  readonly #policy: StorePolicy;
  readonly #lease: Lease;
  readonly #span: TelemetrySpan | undefined;
  #abandoned: string | undefined;

  constructor(policy: StorePolicy, lease: Lease, span: TelemetrySpan | undefined) {
    this.#policy = policy;
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
    const { maxBodyBytes, storeServerErrors, storedHeaders, textPayloads } = this.#policy;
    const { status, body, encoding } = response;
    const size = bodyLength(body, encoding);
    if (size > maxBodyBytes) return this.release('too-large');
    if (status >= 500 && !storeServerErrors) return this.release('server-error');
    const headers =
      typeof response.headers === 'function'
        ? response.headers(storedHeaders)
        : pickHeaders(response.headers, storedHeaders);
    await this.#lease.complete(encodeParts(status, headers, body, encoding, size, textPayloads));
    this.#span?.end();
  }

  /** Releases the key without storing (`thrown`, `streamed`, `connection-lost`, …). */
  async release(reason: string): Promise<void> {
    await this.#lease.release(this.#abandoned ?? reason);
    this.#span?.end();
  }
}

const isThenable = (value: unknown): value is PromiseLike<unknown> =>
  typeof (value as { then?: unknown } | null)?.then === 'function';

/**
 * The framework-independent HTTP core every adapter maps to: validates the key, scopes and
 * fingerprints the request, claims it, and tells the adapter to pass, respond (problem or replay)
 * or execute. `Req` is what the adapter passes to `scope` and `fingerprint`.
 */
export class HttpCore<Req> implements StorePolicy {
  readonly engine: Engine;
  /** Lower-case name of the key header. */
  readonly header: string;
  readonly headerName: string;
  readonly storedHeaders: ReadonlySet<string>;
  readonly maxBodyBytes: number;
  readonly maxRequestBodyBytes: number;
  readonly storeServerErrors: boolean;
  readonly textPayloads: boolean;
  /** True when a duplicate may wait for the first (`waitForInFlightMs` > 0). */
  readonly waits: boolean;
  readonly #methods: ReadonlySet<string>;
  readonly #required: boolean;
  readonly #retryAfterSeconds: number;
  readonly #scope: ((req: Req) => ScopeValue | Promise<ScopeValue>) | undefined;
  readonly #fingerprint: ((req: Req, body: unknown) => unknown) | undefined;

  constructor(options: IdempotencyOptions<Req>, factory: string) {
    const parsed = parse(httpSchema<Req>(), options, factory);
    this.engine = new Engine(parsed);
    this.headerName = parsed.headerName;
    this.header = parsed.headerName.toLowerCase();
    this.storedHeaders = new Set(parsed.storeHeaders.map((h) => h.toLowerCase()));
    this.maxBodyBytes = parsed.maxBodyBytes;
    this.maxRequestBodyBytes = parsed.maxRequestBodyBytes;
    this.storeServerErrors = parsed.storeServerErrors;
    this.textPayloads = completesText(this.engine.store);
    this.waits = parsed.waitForInFlightMs > 0;
    this.#methods = new Set(parsed.methods.map((m) => m.toUpperCase()));
    this.#required = parsed.required;
    this.#retryAfterSeconds = parsed.retryAfterSeconds;
    this.#scope = parsed.scope;
    this.#fingerprint = parsed.fingerprint;
  }

  /** True when requests with this method are covered. */
  covers(method: string): boolean {
    return this.#methods.has(method) || this.#methods.has(method.toUpperCase());
  }

  /** The 413 answer for a request body over `maxRequestBodyBytes` (the key is not claimed). */
  tooLarge(): StoredResponse {
    this.engine.emit({}, { type: 'rejected', reason: 'body-too-large' });
    const limit = this.maxRequestBodyBytes;
    const detail = `The request body is larger than ${limit} bytes, the limit of this endpoint; send a smaller body.`;
    const response = problemResponse('REQUEST_TOO_LARGE', detail);
    // The rest of the upload is not read: close the connection after answering.
    return { ...response, headers: [...response.headers, ['connection', 'close']] };
  }

  #refuse(code: ProblemCode, detail: string, retryAfter?: number): Begin {
    return { kind: 'respond', response: problemResponse(code, detail, retryAfter) };
  }

  /**
   * Decides what to do with one request. Store failures become answers (503, or pass with
   * `failOpen`); a `scope` or `fingerprint` function that throws rejects, for the adapter to hand
   * to the framework's error handling.
   */
  async begin(req: Req, view: RequestView): Promise<Begin> {
    if (!this.covers(view.method)) return PASS;
    const key = this.#keyOf(view);
    if (typeof key !== 'string') return key;
    rememberKey(req, key);
    let scope = '';
    if (this.#scope) {
      const returned = this.#scope(req);
      // Awaited only when it is a promise: a synchronous scope adds no turn of the event loop.
      const value = isThenable(returned) ? await returned : returned;
      if (value === undefined || value === null || value === '')
        return this.#scopeMissing(key, value);
      scope = String(value);
    }
    const body = view.body;
    const print = this.#fingerprint
      ? this.#fingerprint(req, body)
      : [view.method.toUpperCase(), view.path, body];
    const span = this.engine.telemetry.startSpan(view.method);
    const input = {
      key,
      storeKey: storeKeyOf(scope, key),
      fingerprint: digest(print),
      span,
      signal: view.signal,
    };
    try {
      return this.#answer(await this.engine.begin(input), span);
    } catch (error) {
      span?.end();
      if (
        isIdempotencyError(error, 'STORE_UNAVAILABLE') ||
        isIdempotencyError(error, 'STORE_FULL') ||
        isIdempotencyError(error, 'STORE_CLOSED')
      ) {
        return this.#refuse(error.code, `${error.message} Retry later.`, this.#retryAfterSeconds);
      }
      throw error;
    }
  }

  /** The request's key, or the refusal when it is required but missing, or malformed. */
  #keyOf(view: RequestView): string | Begin {
    const { headerName, engine } = this;
    if (view.key === undefined) {
      if (!this.#required) return PASS;
      engine.emit({}, { type: 'rejected', reason: 'missing' });
      return this.#refuse(
        'IDEMPOTENCY_KEY_MISSING',
        `This endpoint requires an ${headerName} header; send a unique key (a UUID v4) per operation and reuse it when you retry.`,
      );
    }
    try {
      return parseIdempotencyKey(view.key, headerName);
    } catch (error) {
      engine.emit({}, { type: 'rejected', reason: 'invalid' });
      return this.#refuse('IDEMPOTENCY_KEY_INVALID', (error as Error).message);
    }
  }

  /** The refusal when `scope` returned nothing for this request. */
  #scopeMissing(key: string, value: ScopeValue): Begin {
    this.engine.emit({ key }, { type: 'rejected', reason: 'scope-missing' });
    return this.#refuse(
      'SCOPE_MISSING',
      `The scope of this endpoint returned ${value === '' ? 'an empty string' : String(value)} for this request, so its ${this.headerName} cannot be kept apart from other callers' keys; the request was refused. Make scope return the authenticated caller (e.g. authOf(req)?.subject from @ballast/auth/express) and run the idempotency middleware after authentication.`,
    );
  }

  /** What the engine's decision means for the request; `span` ends unless the handler runs. */
  #answer(decision: Decision, span: TelemetrySpan | undefined): Begin {
    switch (decision.outcome) {
      case 'execute':
        return { kind: 'execute', attempt: new Attempt(this, decision.lease, span) };
      case 'fail-open':
        span?.end();
        return PASS;
      case 'replay': {
        span?.end();
        const stored = decodeResponse(decision.payload);
        const headers = [...stored.headers, ['idempotent-replayed', 'true'] as const];
        return { kind: 'respond', response: { ...stored, headers } };
      }
      case 'conflict':
        span?.end();
        return this.#refuse(
          'IDEMPOTENCY_KEY_IN_PROGRESS',
          `A request with this ${this.headerName} is still being processed; retry after it completes to get its response.`,
          this.#retryAfterSeconds,
        );
      case 'mismatch':
        span?.end();
        return this.#refuse(
          'IDEMPOTENCY_KEY_REUSED',
          `This ${this.headerName} was already used with a different request (method, path or body); use a new key for a new operation.`,
        );
    }
  }
}
