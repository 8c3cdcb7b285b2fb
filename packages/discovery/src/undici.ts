import {
  type Clock,
  FollowingController,
  isReplayableRequest,
  o,
  systemClock,
} from '@ballast/kernel';
import { Dispatcher, Dispatcher1Wrapper, Pool } from 'undici';
import type { Balancer } from './balancer.ts';
import type { Outcome } from './endpoint.ts';
import { type DiscoveryError, NoInstanceAvailableError, ServiceNotFoundError } from './errors.ts';
import { parse } from './options.ts';
import type { OutlierEjectionOptions } from './outlier-ejection.ts';
import type { Instance, Registry } from './registry.ts';
import { type Pick, type Resolver, type ResolverSnapshot, resolver } from './resolver.ts';
import { annotateActiveSpan } from './telemetry.ts';

/** Options of {@link discoveryDispatcher}. */
export interface DiscoveryDispatcherOptions {
  /** Where services' instances come from. */
  registry: Registry;
  /** How to choose an instance; shared by every service. Default `p2cPeakEwma()`. */
  balancer?: Balancer | undefined;
  /**
   * How many times a failed request is sent again, each time to another instance: a connection
   * that could not be opened (any request: it was never sent), or, for idempotent requests only
   * (GET, HEAD, OPTIONS, PUT, DELETE, TRACE, or an `Idempotency-Key` header) with a body that can
   * be sent again, a connection reset before the response and a `503`. Default `1`; `0` disables.
   */
  retries?: number | undefined;
  /**
   * Which answers count against the instance that gave them — in its balancer estimate and its
   * outlier-ejection count — and, for a `503`, may be replaced by another instance's answer.
   * Default: every status of 500 or above. Exclude a status that means "not now, for a reason
   * that is not this instance" — e.g. a service answering `503` because a dependency of its own is
   * down: every instance would answer the same, and penalising the ones that did starves them
   * of traffic after the dependency recovers. If it throws, the default decides that answer and
   * the process gets one warning (code `BALLAST_DISCOVERY_IS_FAILURE`) per dispatcher.
   */
  isFailure?: ((statusCode: number, service: string) => boolean) | undefined;
  /** Options of every instance's undici `Pool` (connections, timeouts, TLS). Default undici's. */
  pool?: Pool.Options | undefined;
  /** See `resolver()`: how long the last known good list is served, in ms. Default `300000`. */
  maxStaleMs?: number | undefined;
  /** See `resolver()`: Envoy's panic threshold, 0–1. Default `0.5`. */
  panicThreshold?: number | undefined;
  /** See `resolver()`: this client's zone, preferred. Default: none. */
  zone?: string | undefined;
  /** See `resolver()`: slow start window for new instances, in ms. Default `0` (off). */
  slowStartMs?: number | undefined;
  /** See `resolver()`: outlier ejection, or `false`. Default: Envoy's defaults. */
  ejection?: OutlierEjectionOptions | false | undefined;
  /**
   * How long the first request to a service waits for the registry's first answer, in ms, before
   * failing with `REGISTRY_UNAVAILABLE`. Default `5000`.
   */
  resolveTimeoutMs?: number | undefined;
  /** Time source for latency, ejection and staleness. Default: the system clock. */
  clock?: Clock | undefined;
}

/**
 * An undici `Dispatcher` that sends `http://<service>/…` to an instance of `<service>`, with a
 * `resolver()` per service and a `Pool` per instance; also `request()`, `fetch()`, `stream()`,
 * `compose()` like any undici dispatcher.
 */
export interface DiscoveryDispatcher extends Dispatcher {
  /** The resolver of `service` (created on first use): its `status()`, instances and events. */
  resolver(service: string): Resolver;
  /**
   * A read-only, JSON-safe copy of every service this dispatcher has sent to: each resolver's
   * `snapshot()` (per instance: address, zone, requests in flight, latency estimate, ejection,
   * outcome counters), in the order the services were first used. For admin endpoints and
   * dashboards (like Envoy's `/clusters`); creates no resolver.
   */
  snapshot(): DispatcherSnapshot;
  /** Closes every pool (letting requests in flight finish) and every resolver; idempotent. */
  close(): Promise<void>;
  close(callback: () => void): void;
  /** `close()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void>;
}

/** What {@link DiscoveryDispatcher.snapshot} returns. */
export interface DispatcherSnapshot {
  /** The clock's time the snapshot was taken, in ms. */
  readonly at: number;
  /** One entry per service this dispatcher has resolved. */
  readonly services: readonly ResolverSnapshot[];
}

const schema = o.object({
  registry: o.custom<Registry>(
    (value) =>
      typeof value === 'object' &&
      value !== null &&
      typeof (value as Registry).watch === 'function',
    'a Registry (staticRegistry(), redisRegistry(), consulRegistry(), dnsRegistry() or your own)',
  ),
  balancer: o
    .custom<Balancer>(
      (value) =>
        typeof value === 'object' &&
        value !== null &&
        typeof (value as Balancer).pick === 'function',
      'a Balancer (p2cPeakEwma(), leastOutstanding(), roundRobin(), random(), weighted())',
    )
    .optional(),
  retries: o.integer({ min: 0, max: 5 }).default(1),
  isFailure: o.fn<(statusCode: number, service: string) => boolean>().optional(),
  pool: o.object({}, { passthrough: true }).optional(),
  maxStaleMs: o.number({ min: 0 }).optional(),
  panicThreshold: o.number({ min: 0, max: 1 }).optional(),
  zone: o.string({ minLength: 1 }).optional(),
  slowStartMs: o.number({ min: 0 }).optional(),
  ejection: o.unknown().optional(),
  resolveTimeoutMs: o.number({ gt: 0 }).optional(),
  clock: o.clock<Clock>().optional(),
});

/**
 * Creates the dispatcher: `request('http://orders/api/orders/7', { dispatcher })` and
 * `fetch('http://orders/…', { dispatcher })` go to a balanced instance of `orders`. Latency and
 * outcome of every request feed the balancer and outlier ejection; failures before a response are
 * retried once on another instance (see {@link DiscoveryDispatcherOptions.retries}); an unknown
 * service fails at once with `SERVICE_NOT_FOUND`, a service without a usable instance with
 * `NO_INSTANCE_AVAILABLE` (and `retryAfterMs`) — never a hang, never a raw `ECONNREFUSED`.
 *
 * @example
 * const dispatcher = discoveryDispatcher({ registry: redisRegistry({ url }) });
 * const { body } = await request('http://orders/api/orders/7', { dispatcher });
 */
export function discoveryDispatcher(options: DiscoveryDispatcherOptions): DiscoveryDispatcher {
  const parsed = parse(schema, options, 'discoveryDispatcher()');
  const resolverOptions = {
    registry: parsed.registry,
    balancer: parsed.balancer,
    maxStaleMs: parsed.maxStaleMs,
    panicThreshold: parsed.panicThreshold,
    zone: parsed.zone,
    slowStartMs: parsed.slowStartMs,
    ejection: options.ejection,
    resolveTimeoutMs: parsed.resolveTimeoutMs,
    clock: parsed.clock ?? systemClock,
  };
  // Validates the resolver options now, at construction, not on the first request.
  const probe = resolver({ ...resolverOptions, registry: idleRegistry, service: 'probe' });
  void probe.close();
  return new ServiceDispatcher(
    resolverOptions,
    parsed.retries,
    options.pool ?? {},
    parsed.isFailure ?? serverError,
  );
}

/** The default of `isFailure`: any status of 500 or above. */
const serverError = (statusCode: number): boolean => statusCode >= 500;

/** A registry that never answers: lets the constructor validate resolver options. */
const idleRegistry: Registry = {
  kind: 'idle',
  register: () => Promise.reject(new Error('idle')),
  list: async () => [],
  watch: () => {
    const dispose = (): void => {};
    return { dispose, [Symbol.dispose]: dispose };
  },
  close: async () => {},
  [Symbol.asyncDispose]: async () => {},
};

interface ServiceState {
  readonly resolver: Resolver;
  /** Set once the resolver had its first answer: later requests pick without waiting. */
  ready: boolean;
  /** One pool per instance id. */
  readonly pools: Map<string, { origin: string; pool: Pool }>;
}

type ResolverSettings = Omit<Parameters<typeof resolver>[0], 'service'>;

class ServiceDispatcher extends Dispatcher implements DiscoveryDispatcher {
  private readonly settings: ResolverSettings;
  private readonly retries: number;
  private readonly poolOptions: Pool.Options;
  readonly isFailure: (statusCode: number, service: string) => boolean;
  private readonly services = new Map<string, ServiceState>();
  private closed = false;

  constructor(
    settings: ResolverSettings,
    retries: number,
    poolOptions: Pool.Options,
    isFailure: (statusCode: number, service: string) => boolean,
  ) {
    super();
    this.settings = settings;
    this.retries = retries;
    this.poolOptions = poolOptions;
    this.isFailure = isFailure;
  }

  #isFailureReported = false;

  /** Warns once (`BALLAST_DISCOVERY_IS_FAILURE`) that the caller's `isFailure` threw. */
  reportIsFailureError(error: unknown): void {
    if (this.#isFailureReported) return;
    this.#isFailureReported = true;
    const reason = error instanceof Error ? error.message : String(error);
    process.emitWarning(
      `discoveryDispatcher: isFailure threw (${reason}); answers are judged by the default rule (status >= 500) until it is fixed`,
      { code: 'BALLAST_DISCOVERY_IS_FAILURE' },
    );
  }

  resolver(service: string): Resolver {
    return this.serviceState(service).resolver;
  }

  snapshot(): DispatcherSnapshot {
    const services = [...this.services.values()].map((state) => state.resolver.snapshot());
    return {
      at: (this.settings.clock ?? systemClock).now(),
      services,
    };
  }

  private serviceState(service: string): ServiceState {
    let state = this.services.get(service);
    if (state === undefined) {
      const r = resolver({ ...this.settings, service });
      const pools = new Map<string, { origin: string; pool: Pool }>();
      state = { resolver: r, pools, ready: false };
      r.onInstances((instances) => closeLeavers(pools, instances));
      this.services.set(service, state);
    }
    return state;
  }

  /** The pool of `instance` (created on first use), and its origin. */
  poolFor(
    state: ServiceState,
    instance: Instance,
    protocol: string,
  ): { origin: string; pool: Pool } {
    const host = instance.address.includes(':') ? `[${instance.address}]` : instance.address;
    const origin = `${protocol}//${host}:${instance.port}`;
    const entry = state.pools.get(instance.id);
    if (entry !== undefined && entry.origin === origin && !entry.pool.closed) return entry;
    if (entry !== undefined) void entry.pool.close().catch(() => {});
    const created = { origin, pool: new Pool(origin, this.poolOptions) };
    state.pools.set(instance.id, created);
    return created;
  }

  override dispatch(
    options: Dispatcher.DispatchOptions,
    handler: Dispatcher.DispatchHandler,
  ): boolean {
    // Handlers of the v1 contract (Node's built-in fetch on older Node versions) are adapted.
    const target = adaptHandler(handler);
    let url: URL | undefined;
    try {
      url = typeof options.origin === 'string' ? new URL(options.origin) : options.origin;
    } catch {
      url = undefined;
    }
    if (this.closed) {
      failWith(
        target,
        new NoInstanceAvailableError(url?.hostname ?? '?', 0, 'the dispatcher was closed'),
      );
      return true;
    }
    if (url === undefined || url.hostname === '') {
      failWith(
        target,
        new ServiceNotFoundError(String(options.origin), {
          registry: this.settings.registry.kind,
        }),
      );
      return true;
    }
    const state = this.serviceState(url.hostname);
    new BalancedRequest(this, state, url.protocol, options, target, this.retries).start();
    return true;
  }

  override close(): Promise<void>;
  override close(callback: () => void): void;
  override close(callback?: () => void): Promise<void> | void {
    const done = this.closeAll();
    if (callback === undefined) return done;
    void done.then(callback, callback);
  }

  private async closeAll(): Promise<void> {
    this.closed = true;
    const services = [...this.services.values()];
    this.services.clear();
    await Promise.all(
      services.flatMap((state) => [
        state.resolver.close(),
        ...[...state.pools.values()].map((entry) => entry.pool.close().catch(() => {})),
      ]),
    );
  }

  override destroy(): Promise<void>;
  override destroy(error: Error | null): Promise<void>;
  override destroy(callback: () => void): void;
  override destroy(error: Error | null, callback: () => void): void;
  override destroy(
    errorOrCallback?: Error | null | (() => void),
    callback?: () => void,
  ): Promise<void> | void {
    const error = typeof errorOrCallback === 'function' ? null : (errorOrCallback ?? null);
    const cb = typeof errorOrCallback === 'function' ? errorOrCallback : callback;
    this.closed = true;
    const services = [...this.services.values()];
    this.services.clear();
    const done = Promise.all(
      services.flatMap((state) => [
        state.resolver.close(),
        ...[...state.pools.values()].map((entry) => entry.pool.destroy(error).catch(() => {})),
      ]),
    ).then(() => {});
    if (cb === undefined) return done;
    void done.then(cb, cb);
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

type HandlerAdapter = { wrapHandler?: (handler: unknown) => Dispatcher.DispatchHandler };

/**
 * undici 8 dispatchers speak only the v2 handler contract (`onRequestStart`, `onResponseStart`,
 * …); a v1 handler (`onConnect`, `onHeaders`, … — Node's built-in fetch on Node 22) is wrapped
 * with undici's own adapter.
 */
function adaptHandler(handler: Dispatcher.DispatchHandler): Dispatcher.DispatchHandler {
  if (typeof handler.onRequestStart === 'function') return handler;
  const wrap = (Dispatcher1Wrapper as unknown as HandlerAdapter).wrapHandler;
  return wrap === undefined ? handler : wrap(handler);
}

/** Closes (gracefully) the pools of instances no longer listed. */
function closeLeavers(
  pools: Map<string, { origin: string; pool: Pool }>,
  instances: readonly Instance[],
): void {
  if (pools.size === 0) return;
  const present = new Set(instances.map((instance) => instance.id));
  for (const [id, entry] of pools) {
    if (present.has(id)) continue;
    pools.delete(id);
    void entry.pool.close().catch(() => {});
  }
}

function failWith(handler: Dispatcher.DispatchHandler, error: Error): void {
  queueMicrotask(() => {
    if (typeof handler.onResponseError !== 'function') throw error;
    handler.onResponseError(null as unknown as Dispatcher.DispatchController, error);
  });
}

const CONNECT_ERRORS = new Set([
  'ECONNREFUSED',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EADDRNOTAVAIL',
  'ENOTFOUND',
  'EAI_AGAIN',
  'UND_ERR_CONNECT_TIMEOUT',
]);
const RESET_ERRORS = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET', 'ECONNABORTED']);
const ABORT_ERRORS = new Set(['UND_ERR_ABORTED', 'ABORT_ERR']);

function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string') return code;
  const cause = (error as { cause?: { code?: unknown } } | null)?.cause?.code;
  return typeof cause === 'string' ? cause : undefined;
}

type Headers = Record<string, string | string[] | undefined>;

/** One request: its attempts on one instance after another. */
class BalancedRequest {
  readonly #dispatcher: ServiceDispatcher;
  readonly #state: ServiceState;
  readonly #protocol: string;
  readonly #options: Dispatcher.DispatchOptions;
  readonly #handler: Dispatcher.DispatchHandler;
  /**
   * The controller the caller's handler holds for the whole request (the kernel's, as in breaker
   * and auth): it follows the current attempt, so a pause or an abort reaches whichever instance
   * is being tried; an abort while no attempt has started fails the request at once.
   */
  readonly #controller: FollowingController<Dispatcher.DispatchController> =
    new FollowingController((reason) => {
      const attempt = this.#controller.target;
      if (attempt !== undefined) attempt.abort(reason);
      else this.#fail(reason);
    });
  #retriesLeft: number;
  #attempt = 0;
  #started = false;
  #finished = false;

  constructor(
    dispatcher: ServiceDispatcher,
    state: ServiceState,
    protocol: string,
    options: Dispatcher.DispatchOptions,
    handler: Dispatcher.DispatchHandler,
    retries: number,
  ) {
    this.#dispatcher = dispatcher;
    this.#state = state;
    this.#protocol = protocol;
    this.#options = options;
    this.#handler = handler;
    this.#retriesLeft = retries;
  }

  /** Idempotent (method or `Idempotency-Key`) with a body that can be sent again. */
  #replayable(): boolean {
    const options = this.#options;
    return isReplayableRequest({
      method: options.method ?? 'GET',
      headers: options.headers as never,
      body: options.body,
    });
  }

  /** The body can be sent again (none, a string or bytes): enough when nothing was sent. */
  #bodyReplayable(): boolean {
    return isReplayableRequest({ method: 'GET', body: this.#options.body });
  }

  start(): void {
    const state = this.#state;
    if (state.ready) {
      this.#send(undefined);
      return;
    }
    state.resolver.ready().then(
      () => {
        state.ready = true;
        this.#send(undefined);
      },
      (error: unknown) => this.#fail(error as Error),
    );
  }

  #send(exclude: Pick | undefined): void {
    if (this.#finished) return;
    if (this.#controller.aborted) {
      this.#fail(this.#controller.reason!);
      return;
    }
    let pick: Pick;
    try {
      pick = this.#state.resolver.pick({ exclude: exclude?.endpoint });
    } catch (error) {
      this.#fail(error as Error);
      return;
    }
    this.#dispatchTo(pick);
  }

  /** A second pick for a retry, or `undefined` when only the failed instance is left. */
  #pickOther(failed: Pick): Pick | undefined {
    try {
      const pick = this.#state.resolver.pick({ exclude: failed.endpoint });
      if (pick.endpoint === failed.endpoint) {
        pick.done('cancelled');
        return undefined;
      }
      return pick;
    } catch {
      return undefined;
    }
  }

  #dispatchTo(pick: Pick): void {
    this.#attempt++;
    annotateActiveSpan(this.#state.resolver.service, pick.instance.id, this.#attempt);
    const { origin, pool } = this.#dispatcher.poolFor(this.#state, pick.instance, this.#protocol);
    const attempt = new AttemptHandler(this, pick);
    const options = { ...this.#options, origin };
    try {
      pool.dispatch(options, attempt);
    } catch (error) {
      attempt.onResponseError(undefined, error as Error);
    }
  }

  // --- called by the attempt handler -----------------------------------------------------------

  requestStart(controller: Dispatcher.DispatchController, context: unknown): void {
    if (this.#controller.aborted) {
      controller.abort(this.#controller.reason!);
      return;
    }
    this.#controller.follow(controller);
    if (!this.#started) {
      this.#started = true;
      this.#handler.onRequestStart?.(this.#controller, context);
    }
  }

  /**
   * Does this status count against the instance that answered it (`isFailure`)? A throwing
   * `isFailure` is a bug in the caller's code: the default rule decides this answer, and the
   * error is reported once per dispatcher as a process warning rather than failing the request.
   */
  failed(statusCode: number): boolean {
    try {
      return this.#dispatcher.isFailure(statusCode, this.#state.resolver.service) === true;
    } catch (error) {
      this.#dispatcher.reportIsFailureError(error);
      return serverError(statusCode);
    }
  }

  /** May a response with this status be replaced by another instance's? */
  retryStatus(pick: Pick, statusCode: number): Pick | undefined {
    if (statusCode !== 503 || this.#retriesLeft <= 0 || !this.#replayable()) return undefined;
    if (!this.failed(statusCode)) return undefined;
    if (this.#controller.aborted) return undefined;
    const other = this.#pickOther(pick);
    if (other !== undefined) this.#retriesLeft--;
    return other;
  }

  retry(next: Pick): void {
    this.#controller.release();
    this.#dispatchTo(next);
  }

  responseStart(statusCode: number, headers: Headers, statusMessage: string | undefined): void {
    this.#handler.onResponseStart?.(this.#controller, statusCode, headers as never, statusMessage);
  }

  responseData(chunk: Buffer): void {
    this.#handler.onResponseData?.(this.#controller, chunk);
  }

  responseEnd(trailers: Headers): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#handler.onResponseEnd?.(this.#controller, trailers as never);
  }

  /** An attempt failed before forwarding a response: retry elsewhere or report. */
  attemptFailed(pick: Pick, error: Error, responseForwarded: boolean): void {
    const code = errorCode(error);
    const aborted = this.#controller.aborted || (code !== undefined && ABORT_ERRORS.has(code));
    const connect = code !== undefined && CONNECT_ERRORS.has(code);
    const reset = code !== undefined && RESET_ERRORS.has(code);
    // Timeouts and other transport errors count as failures of the instance, like resets.
    const outcome: Outcome = aborted ? 'cancelled' : 'connect-error';
    pick.done(outcome);
    if (!aborted && !responseForwarded && this.#retriesLeft > 0) {
      const allowed = connect ? this.#bodyReplayable() : reset && this.#replayable();
      if (allowed) {
        const other = this.#pickOther(pick);
        if (other !== undefined) {
          this.#retriesLeft--;
          this.retry(other);
          return;
        }
      }
    }
    if (connect && !aborted && !responseForwarded) {
      const service = this.#state.resolver.service;
      this.#fail(
        new NoInstanceAvailableError(
          service,
          1000,
          `could not connect to ${pick.instance.address}:${pick.instance.port} (${code})${this.#attempt > 1 ? ` nor to the instances tried before it` : ''}`,
          { cause: error },
        ),
      );
      return;
    }
    this.#fail(error);
  }

  #fail(error: Error): void {
    if (this.#finished) return;
    this.#finished = true;
    const handler = this.#handler;
    if (typeof handler.onResponseError !== 'function') {
      queueMicrotask(() => {
        throw error;
      });
      return;
    }
    handler.onResponseError(this.#controller, error as DiscoveryError | Error);
  }
}

/** The handler of one attempt on one instance. */
class AttemptHandler implements Dispatcher.DispatchHandler {
  readonly #request: BalancedRequest;
  readonly #pick: Pick;
  #status = 0;
  #forwarded = false;
  #retryWith: Pick | undefined;
  #settled = false;

  constructor(request: BalancedRequest, pick: Pick) {
    this.#request = request;
    this.#pick = pick;
  }

  onRequestStart(controller: Dispatcher.DispatchController, context: unknown): void {
    this.#request.requestStart(controller, context);
  }

  onResponseStart(
    _controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: Headers,
    statusMessage?: string,
  ): void {
    this.#status = statusCode;
    this.#retryWith = this.#request.retryStatus(this.#pick, statusCode);
    if (this.#retryWith !== undefined) return; // swallowed: another instance answers instead
    this.#forwarded = true;
    this.#request.responseStart(statusCode, headers, statusMessage);
  }

  onResponseData(_controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.#forwarded) this.#request.responseData(chunk);
  }

  onResponseEnd(_controller: Dispatcher.DispatchController, trailers: Headers): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#pick.done(this.#request.failed(this.#status) ? 'server-error' : 'success');
    if (this.#retryWith !== undefined) {
      this.#request.retry(this.#retryWith);
      return;
    }
    this.#request.responseEnd(trailers);
  }

  onResponseError(_controller: Dispatcher.DispatchController | undefined, error: Error): void {
    if (this.#settled) return;
    this.#settled = true;
    if (this.#retryWith !== undefined) {
      // The 503's body failed; the retry was decided already.
      this.#pick.done('server-error');
      this.#request.retry(this.#retryWith);
      return;
    }
    this.#request.attemptFailed(this.#pick, error, this.#forwarded);
  }
}
