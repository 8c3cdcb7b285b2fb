import type { EventEmitter } from 'node:events';
import {
  type Clock,
  type Listener,
  ListenerList,
  o,
  parseOptions,
  type Subscription,
  systemClock,
  unrefTimer,
} from '@ballast/kernel';
import {
  type DiscoveryError,
  InvalidOptionsError,
  isDiscoveryError,
  RegistryUnavailableError,
} from './errors.ts';
import type { Instance, InstanceInput, RegisteredInstance, Registry } from './registry.ts';

/**
 * A server whose requests `register()` counts for draining: a `node:http`/`node:https` server,
 * or the one an Express, Fastify (`fastify.server`) or Koa app listens on.
 */
export type RequestEmitter = Pick<EventEmitter, 'on' | 'off'>;

/** Options of {@link register}. */
export interface RegisterOptions {
  /**
   * Heartbeat period in ms. Default: what the registry asks for (a third of the TTL for Redis and
   * for Consul's TTL check); no heartbeats when the registry needs none (static, Consul HTTP check).
   */
  heartbeatIntervalMs?: number | undefined;
  /**
   * How long `close()` waits, after deregistering, for in-flight requests to finish, in ms.
   * Default `10000`. Needs `inFlight` or `server` to know when they have; without either it waits
   * the whole `drainMs`.
   */
  drainMs?: number | undefined;
  /**
   * How long the instance stays listed as draining (unhealthy) before it is deregistered, in ms,
   * so that every client's resolver has seen it before it disappears. Default `0`.
   */
  deregisterDelayMs?: number | undefined;
  /** Returns how many requests are in flight; `close()` waits until it is 0 (or `drainMs`). */
  inFlight?: (() => number) | undefined;
  /** A server whose in-flight requests `close()` waits for (counted from its `request` events). */
  server?: RequestEmitter | undefined;
  /**
   * Signals that start the graceful shutdown (`close()`). Default `['SIGTERM']`; `[]` for none.
   * After the shutdown, when nothing else listens for the signal, it is raised again so the process
   * ends as it would have without this handler.
   */
  signals?: readonly NodeJS.Signals[] | undefined;
  /** Aborts the registration (not the heartbeats that follow it). */
  signal?: AbortSignal | undefined;
  /** Time source of heartbeats and waits (tests pass a manual clock). Default: the system clock. */
  clock?: Clock | undefined;
}

/** Where a registration is in its life. */
export type RegistrationState = 'registered' | 'draining' | 'closed';

/** What {@link register} returns: a live registration that heartbeats until closed. */
export interface ServiceRegistration extends AsyncDisposable {
  /** The instance as registered, defaults filled in. */
  readonly instance: Instance;
  /** `registered`, `draining` while `close()` runs, then `closed`. */
  readonly state: RegistrationState;
  /**
   * Heartbeat, draining and deregistration failures (`REGISTRY_UNAVAILABLE`); the heartbeats go on.
   */
  onError(listener: Listener<DiscoveryError>): Subscription;
  /**
   * Marks the instance draining now (clients stop picking it for new requests) and keeps it
   * registered and heartbeating. For a shutdown sequence that deregisters later
   * (`createShutdown()` of `@ballast/discovery/lifecycle`). A failure is reported through
   * `onError`; the promise always resolves. Idempotent.
   */
  markDraining(): Promise<void>;
  /**
   * Marks the instance draining and deregisters it now, without waiting for in-flight requests
   * (for a shutdown sequence that drains the server itself); heartbeats stop. A failure is
   * reported through `onError`; the promise always resolves. Idempotent; `close()` afterwards
   * only waits for the drain.
   */
  deregister(): Promise<void>;
  /**
   * Graceful shutdown: marks the instance draining (clients stop sending it new requests), waits
   * `deregisterDelayMs`, deregisters it, then waits up to `drainMs` for in-flight requests.
   * Idempotent: every call returns the same promise.
   */
  close(): Promise<void>;
}

const schema = o.object({
  heartbeatIntervalMs: o.integer({ min: 1 }).optional(),
  drainMs: o.integer({ min: 0 }).default(10_000),
  deregisterDelayMs: o.integer({ min: 0 }).default(0),
  inFlight: o.fn<() => number>().optional(),
  server: o
    .custom<RequestEmitter>(
      (value) =>
        typeof value === 'object' &&
        value !== null &&
        typeof (value as RequestEmitter).on === 'function' &&
        typeof (value as RequestEmitter).off === 'function',
      'a server (an EventEmitter with "request" events, like http.Server)',
    )
    .optional(),
  signals: o
    .array(
      o.string({ pattern: { regex: /^SIG[A-Z0-9]+$/, expected: 'a signal name like "SIGTERM"' } }),
    )
    .default(['SIGTERM']),
  signal: o.signal().optional(),
  clock: o.clock<Clock>().default(systemClock),
});

const POLL_MS = 25;

/**
 * Registers `instance` with `registry` and keeps it registered: heartbeats at the registry's
 * pace, and on `close()` — or on `SIGTERM` — drains gracefully: marks the instance draining,
 * deregisters it, then lets in-flight requests finish (up to `drainMs`).
 *
 * Rejects with `INVALID_INSTANCE` for a malformed instance and `REGISTRY_UNAVAILABLE` when the
 * registry cannot be reached.
 *
 * @example
 * const server = app.listen(8080);
 * const registration = await register(registry, { service: 'orders', address: '10.0.0.5', port: 8080 }, { server });
 * // SIGTERM now drains, deregisters and waits for in-flight requests; or call registration.close().
 */
export async function register(
  registry: Registry,
  instance: InstanceInput,
  options: RegisterOptions = {},
): Promise<ServiceRegistration> {
  if (
    typeof registry !== 'object' ||
    registry === null ||
    typeof (registry as Registry).register !== 'function'
  ) {
    throw new InvalidOptionsError({
      option: 'registry',
      received: registry,
      message:
        'register(): the first argument must be a registry (redisRegistry(), consulRegistry(), staticRegistry(), …).',
    });
  }
  const opts = parseOptions(schema, options, { factory: 'register()', error: InvalidOptionsError });
  const registered = await registry.register(instance, { signal: opts.signal });
  return new Registration(registered, opts as ParsedOptions);
}

interface ParsedOptions {
  heartbeatIntervalMs?: number | undefined;
  drainMs: number;
  deregisterDelayMs: number;
  inFlight?: (() => number) | undefined;
  server?: RequestEmitter | undefined;
  signals: NodeJS.Signals[];
  clock: Clock;
}

class Registration implements ServiceRegistration {
  readonly instance: Instance;
  readonly #handle: RegisteredInstance;
  readonly #opts: ParsedOptions;
  readonly #errors = new ListenerList<DiscoveryError>();
  readonly #signalHandlers: [NodeJS.Signals, () => void][] = [];
  #state: RegistrationState = 'registered';
  #timer: unknown;
  #closing: Promise<void> | undefined;
  #marking: Promise<void> | undefined;
  #deregistering: Promise<void> | undefined;
  #requests = 0;
  /** Heartbeats stopped (deregistering or closing). */
  #stopped = false;
  #untrack: (() => void) | undefined;

  constructor(handle: RegisteredInstance, opts: ParsedOptions) {
    this.instance = handle.instance;
    this.#handle = handle;
    this.#opts = opts;
    if (opts.server) this.#track(opts.server);
    for (const name of opts.signals) {
      const onSignal = (): void => {
        void this.close().finally(() => {
          // Nothing else handles the signal: end the process as it would have without us.
          if (process.listenerCount(name) === 0) process.kill(process.pid, name);
        });
      };
      process.once(name, onSignal);
      this.#signalHandlers.push([name, onSignal]);
    }
    this.#scheduleHeartbeat();
  }

  get state(): RegistrationState {
    return this.#state;
  }

  onError(listener: Listener<DiscoveryError>): Subscription {
    return this.#errors.add(listener);
  }

  #report(error: unknown, what: string): void {
    this.#errors.emit(
      isDiscoveryError(error)
        ? error
        : new RegistryUnavailableError('registry', `${what} failed: ${String(error)}`, {
            cause: error,
          }),
    );
  }

  get #interval(): number | undefined {
    return (
      this.#opts.heartbeatIntervalMs ??
      (this.#handle as { heartbeatIntervalMs?: number | undefined }).heartbeatIntervalMs
    );
  }

  #scheduleHeartbeat(): void {
    const interval = this.#interval;
    if (interval === undefined || this.#stopped) return;
    // Housekeeping nobody awaits: it must not keep the process alive.
    this.#timer = unrefTimer(
      this.#opts.clock.setTimeout(() => {
        this.#timer = undefined;
        if (this.#stopped) return;
        this.#handle.heartbeat().then(
          () => this.#scheduleHeartbeat(),
          (error: unknown) => {
            this.#report(error, 'heartbeat');
            this.#scheduleHeartbeat();
          },
        );
      }, interval),
    );
  }

  #track(server: RequestEmitter): void {
    const onRequest = (_req: unknown, res: EventEmitter): void => {
      this.#requests += 1;
      let done = false;
      const finish = (): void => {
        if (done) return;
        done = true;
        this.#requests -= 1;
      };
      res.once('finish', finish);
      res.once('close', finish);
    };
    server.on('request', onRequest);
    this.#untrack = () => server.off('request', onRequest);
  }

  #inFlight(): number {
    let count = this.#opts.server ? this.#requests : 0;
    if (this.#opts.inFlight) {
      try {
        count += this.#opts.inFlight();
      } catch {
        // A throwing counter cannot block the shutdown: count it as idle.
      }
    }
    return count;
  }

  #wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.#opts.clock.setTimeout(resolve, ms);
    });
  }

  async #drain(): Promise<void> {
    const { clock, drainMs } = this.#opts;
    const counted = this.#opts.server !== undefined || this.#opts.inFlight !== undefined;
    const deadline = clock.now() + drainMs;
    if (!counted) {
      if (drainMs > 0) await this.#wait(drainMs);
      return;
    }
    while (this.#inFlight() > 0) {
      const left = deadline - clock.now();
      if (left <= 0) return;
      await this.#wait(Math.min(POLL_MS, left));
    }
  }

  markDraining(): Promise<void> {
    if (this.#state === 'registered') this.#state = 'draining';
    this.#marking ??= this.#handle.setDraining(true).catch((error: unknown) => {
      this.#report(error, 'marking the instance draining');
    });
    return this.#marking;
  }

  deregister(): Promise<void> {
    this.#deregistering ??= this.#deregister();
    return this.#deregistering;
  }

  async #deregister(): Promise<void> {
    this.#state = 'draining';
    this.#stopped = true;
    if (this.#timer !== undefined) this.#opts.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.markDraining();
    try {
      await this.#handle.deregister();
    } catch (error) {
      this.#report(error, 'deregistering');
    }
  }

  close(): Promise<void> {
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  async #shutdown(): Promise<void> {
    for (const [name, handler] of this.#signalHandlers) process.off(name, handler);
    if (this.#deregistering === undefined) {
      this.#state = 'draining';
      this.#stopped = true;
      if (this.#timer !== undefined) this.#opts.clock.clearTimeout(this.#timer);
      this.#timer = undefined;
      await this.markDraining();
      if (this.#opts.deregisterDelayMs > 0) await this.#wait(this.#opts.deregisterDelayMs);
    }
    await this.deregister();
    await this.#drain();
    this.#untrack?.();
    this.#state = 'closed';
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
