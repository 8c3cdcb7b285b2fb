import {
  attempt,
  type Clock,
  type Listener,
  ListenerList,
  o,
  type Subscription,
  systemClock,
} from '@ballast/kernel';
import { InvalidOptionsError, ShutdownStepFailedError } from '../errors.ts';
import type { Campaign } from '../lease/campaign.ts';
import type { Lease } from '../lease/lease.ts';
import { parse } from '../options.ts';
import type { ServiceRegistration } from '../register.ts';
import type { Health } from './health.ts';
import { type DrainableServer, ServerDrain } from './server-drain.ts';

/**
 * The steps of the shutdown that `order` arranges. `readiness` (readiness → `OUT_OF_SERVICE`,
 * registrations marked draining, `Connection: close` on every response) always runs first, at
 * once; the exit always last.
 * - `delay`: wait `shutdownDelayMs` for load balancers, registries and clients to notice.
 * - `deregister`: deregister every registration (`deregisterTimeoutMs`).
 * - `stop-accepting`: close the listeners and the idle keep-alive sockets.
 * - `drain`: wait for in-flight requests, up to `drainTimeoutMs`; then cut what is left.
 * - `release`: resign every campaign and release every lease (`releaseTimeoutMs`).
 * - `hooks`: run the hooks in order (`hooksTimeoutMs` for all of them).
 */
export type ShutdownStep =
  | 'delay'
  | 'deregister'
  | 'stop-accepting'
  | 'drain'
  | 'release'
  | 'hooks';

/** The default `order`. */
export const DEFAULT_SHUTDOWN_ORDER: readonly ShutdownStep[] = [
  'delay',
  'deregister',
  'stop-accepting',
  'drain',
  'release',
  'hooks',
];

/** Work the application adds to the end of the sequence (flush telemetry, close Redis, …). */
export interface ShutdownHook {
  /** Named in reports. */
  readonly name: string;
  /** The work; `signal` aborts when the hooks' time is up. A rejection is reported, then the next hook runs. */
  run(context: { readonly signal: AbortSignal }): unknown;
}

/** Options of {@link createShutdown}. */
export interface ShutdownOptions {
  /** Its readiness is switched off at once (`/readyz` → 503); liveness stays `UP`. */
  health?: Health | undefined;
  /** Servers to stop and drain (`app.listen()`'s result, `fastify.server`, `http.createServer()`). */
  servers?: readonly DrainableServer[] | undefined;
  /**
   * Registrations (`register()`) to mark draining at once and deregister after `shutdownDelayMs`.
   * Register them with `signals: []` so that this sequence alone handles the signals.
   */
  registrations?: readonly ServiceRegistration[] | undefined;
  /** Leader-election campaigns to resign from (after the drain: leader-only work may serve requests). */
  campaigns?: readonly Campaign[] | undefined;
  /** Leases to release. */
  leases?: readonly Lease[] | undefined;
  /** Application hooks, run in order after the release: a function or `{ name, run }`. */
  hooks?: readonly (ShutdownHook | (() => unknown))[] | undefined;
  /**
   * How long the instance keeps serving after readiness went off, before deregistering and
   * closing its listeners, in ms. Default `5000`: Kubernetes removes a terminating pod from its
   * Service's endpoints asynchronously, and kube-proxy, ingresses and registry clients take a few
   * seconds to follow; closing the listener earlier refuses their last requests.
   */
  shutdownDelayMs?: number | undefined;
  /** Time for deregistering every registration, in ms. Default `5000`. */
  deregisterTimeoutMs?: number | undefined;
  /** How long in-flight requests may take to finish after the listeners closed, in ms. Default `10000`. */
  drainTimeoutMs?: number | undefined;
  /** Time for resigning campaigns and releasing leases, in ms. Default `2000`. */
  releaseTimeoutMs?: number | undefined;
  /** Time for all hooks together, in ms. Default `5000`. */
  hooksTimeoutMs?: number | undefined;
  /**
   * The platform's grace period between `SIGTERM` and `SIGKILL`, in ms. Default `30000`
   * (Kubernetes' `terminationGracePeriodSeconds`). A warning is emitted at creation when the
   * sum of the step timeouts does not fit in it.
   */
  gracePeriodMs?: number | undefined;
  /** The order of the steps after `readiness`. Default `DEFAULT_SHUTDOWN_ORDER`. */
  order?: readonly ShutdownStep[] | undefined;
  /** Signals that start the sequence. Default `['SIGTERM', 'SIGINT']`; `[]` for none. */
  signals?: readonly NodeJS.Signals[] | undefined;
  /**
   * Ends the process after a sequence started by a signal (the process is then ours to end):
   * called with `0`. Default `process.exit`; `false` never exits. A sequence started by
   * `shutdown()` from code never exits.
   */
  exit?: ((code: number) => void) | false | undefined;
  /** Receives the start-up warning. Default `process.emitWarning`. */
  onWarning?: ((message: string) => void) | undefined;
  /** Time source of every wait and timeout. Default: the system clock. */
  clock?: Clock | undefined;
}

/** What happened to one step, from {@link GracefulShutdown.onStep}. */
export interface ShutdownStepEvent {
  /** The step (`readiness` is the first). */
  readonly step: ShutdownStep | 'readiness';
  /** `started`, then `done` or `failed` (some part failed or timed out; the sequence went on). */
  readonly phase: 'started' | 'done' | 'failed';
  /** For `done`/`failed`: how long it took, in ms. */
  readonly durationMs: number;
  /** For `failed`: what failed (one error per failing part). */
  readonly errors: readonly ShutdownStepFailedError[];
}

/** The outcome of a sequence. */
export interface ShutdownReport {
  /** What started it: the signal's name, or the reason given to `shutdown()`. */
  readonly reason: string;
  /** Total time, in ms. */
  readonly durationMs: number;
  /** Every step's final event, in order. */
  readonly steps: readonly ShutdownStepEvent[];
  /** `true` when no step failed. */
  readonly ok: boolean;
}

/** The process's graceful shutdown: one sequence, started by a signal or by code. */
export interface GracefulShutdown extends AsyncDisposable {
  /** `idle`, `running` once started, `done` when the sequence ended. */
  readonly state: 'idle' | 'running' | 'done';
  /** Starts the sequence (idempotent: every call returns the same promise); never rejects. */
  shutdown(reason?: string): Promise<ShutdownReport>;
  /** Adds a server to stop and drain. */
  addServer(server: DrainableServer): void;
  /** Adds a registration to mark draining and deregister. */
  addRegistration(registration: ServiceRegistration): void;
  /** Adds a campaign to resign from. */
  addCampaign(campaign: Campaign): void;
  /** Adds a lease to release. */
  addLease(lease: Lease): void;
  /** Adds a hook, after the others. */
  addHook(hook: ShutdownHook | (() => unknown)): void;
  /** Every step's start and end. */
  onStep(listener: Listener<ShutdownStepEvent>): Subscription;
  /** Removes the signal handlers without shutting down (tests, a process that is not ours). */
  close(): Promise<void>;
}

const STEPS = ['delay', 'deregister', 'stop-accepting', 'drain', 'release', 'hooks'] as const;

const schema = o.object({
  health: o
    .custom<Health>(
      (value) =>
        typeof value === 'object' &&
        value !== null &&
        typeof (value as Health).setReady === 'function',
      'a Health from createHealth()',
    )
    .optional(),
  servers: o
    .array(
      o.custom<DrainableServer>(
        (value) =>
          typeof value === 'object' &&
          value !== null &&
          typeof (value as DrainableServer).close === 'function' &&
          typeof (value as DrainableServer).on === 'function',
        'a node:http server (app.listen(), fastify.server, http.createServer())',
      ),
    )
    .default([]),
  registrations: o.array(o.unknown()).default([]),
  campaigns: o.array(o.unknown()).default([]),
  leases: o.array(o.unknown()).default([]),
  hooks: o.array(o.unknown()).default([]),
  shutdownDelayMs: o.integer({ min: 0 }).default(5000),
  deregisterTimeoutMs: o.integer({ min: 0 }).default(5000),
  drainTimeoutMs: o.integer({ min: 0 }).default(10_000),
  releaseTimeoutMs: o.integer({ min: 0 }).default(2000),
  hooksTimeoutMs: o.integer({ min: 0 }).default(5000),
  gracePeriodMs: o.integer({ min: 0 }).default(30_000),
  order: o
    .array(o.oneOf(STEPS))
    .refine((order) => new Set(order).size === order.length, 'each step at most once')
    .default([...DEFAULT_SHUTDOWN_ORDER]),
  signals: o
    .array(
      o.string({ pattern: { regex: /^SIG[A-Z0-9]+$/, expected: 'a signal name like "SIGTERM"' } }),
    )
    .default(['SIGTERM', 'SIGINT']),
  exit: o.union(o.fn<(code: number) => void>(), o.literal(false)).optional(),
  onWarning: o.fn<(message: string) => void>().optional(),
  clock: o.clock<Clock>().default(systemClock),
});

type Parsed = ReturnType<typeof schema.parse>;

/**
 * Creates the graceful shutdown of this process and listens for `SIGTERM`/`SIGINT`. The sequence:
 * readiness → `OUT_OF_SERVICE` at once (liveness stays `UP`; registrations marked draining;
 * `Connection: close` on every response) → wait `shutdownDelayMs` → deregister → stop accepting
 * and close idle keep-alive sockets → drain in-flight requests up to `drainTimeoutMs` → resign
 * leadership, release leases → hooks → `exit(0)` when a signal started it. A failing or slow step
 * is reported (`onStep`) and the sequence goes on; nothing throws.
 *
 * @example
 * const shutdown = createShutdown({ health, servers: [server], registrations: [registration],
 *   hooks: [() => redis.quit()] });
 */
export function createShutdown(options: ShutdownOptions = {}): GracefulShutdown {
  const opts = parse(schema, options, 'createShutdown()');
  return new Sequence(opts, options);
}

function hookOf(hook: unknown, index: number): ShutdownHook {
  if (typeof hook === 'function')
    return { name: hook.name || `hook ${index + 1}`, run: hook as () => unknown };
  if (typeof hook === 'object' && hook !== null && typeof (hook as ShutdownHook).run === 'function')
    return {
      name: String((hook as ShutdownHook).name ?? `hook ${index + 1}`),
      run: (context) => (hook as ShutdownHook).run(context),
    };
  throw new InvalidOptionsError({
    option: `hooks.${index}`,
    received: hook,
    message: `createShutdown(): hooks[${index}] must be a function or { name, run() }.`,
  });
}

class Sequence implements GracefulShutdown {
  readonly #opts: Parsed;
  readonly #clock: Clock;
  readonly #drains: ServerDrain[] = [];
  readonly #registrations: ServiceRegistration[];
  readonly #campaigns: Campaign[];
  readonly #leases: Lease[];
  readonly #hooks: ShutdownHook[] = [];
  readonly #steps = new ListenerList<ShutdownStepEvent>();
  readonly #signalHandlers: [NodeJS.Signals, () => void][] = [];
  readonly #exit: ((code: number) => void) | false;
  #state: 'idle' | 'running' | 'done' = 'idle';
  #running: Promise<ShutdownReport> | undefined;

  constructor(opts: Parsed, raw: ShutdownOptions) {
    this.#opts = opts;
    this.#clock = opts.clock;
    this.#exit = raw.exit === undefined ? (code) => process.exit(code) : raw.exit;
    this.#registrations = [...(raw.registrations ?? [])];
    this.#campaigns = [...(raw.campaigns ?? [])];
    this.#leases = [...(raw.leases ?? [])];
    (raw.hooks ?? []).forEach((hook, i) => {
      this.#hooks.push(hookOf(hook, i));
    });
    for (const server of opts.servers) this.addServer(server);
    for (const name of opts.signals as NodeJS.Signals[]) {
      const onSignal = (): void => {
        void this.#start(name, true);
      };
      process.on(name, onSignal);
      this.#signalHandlers.push([name, onSignal]);
    }
    this.#checkBudget();
  }

  get state(): 'idle' | 'running' | 'done' {
    return this.#state;
  }

  #checkBudget(): void {
    const o = this.#opts;
    const budget =
      o.shutdownDelayMs +
      o.deregisterTimeoutMs +
      o.drainTimeoutMs +
      o.releaseTimeoutMs +
      o.hooksTimeoutMs;
    if (budget <= o.gracePeriodMs) return;
    const message = `createShutdown(): the shutdown may take ${budget} ms (shutdownDelayMs ${o.shutdownDelayMs} + deregisterTimeoutMs ${o.deregisterTimeoutMs} + drainTimeoutMs ${o.drainTimeoutMs} + releaseTimeoutMs ${o.releaseTimeoutMs} + hooksTimeoutMs ${o.hooksTimeoutMs}), more than the platform's grace period gracePeriodMs ${o.gracePeriodMs}: the process may be killed before it ends. Lower the timeouts or raise the grace period (terminationGracePeriodSeconds).`;
    try {
      if (o.onWarning) o.onWarning(message);
      else process.emitWarning(message, { code: 'BALLAST_SHUTDOWN_BUDGET' });
    } catch {
      // A throwing warning sink cannot stop the construction.
    }
  }

  addServer(server: DrainableServer): void {
    this.#drains.push(new ServerDrain(server));
  }

  addRegistration(registration: ServiceRegistration): void {
    this.#registrations.push(registration);
  }

  addCampaign(campaign: Campaign): void {
    this.#campaigns.push(campaign);
  }

  addLease(lease: Lease): void {
    this.#leases.push(lease);
  }

  addHook(hook: ShutdownHook | (() => unknown)): void {
    this.#hooks.push(hookOf(hook, this.#hooks.length));
  }

  onStep(listener: Listener<ShutdownStepEvent>): Subscription {
    return this.#steps.add(listener);
  }

  shutdown(reason = 'shutdown()'): Promise<ShutdownReport> {
    return this.#start(reason, false);
  }

  #start(reason: string, bySignal: boolean): Promise<ShutdownReport> {
    if (this.#running === undefined) {
      this.#running = this.#run(reason).then((report) => {
        this.#removeSignals();
        if (bySignal && this.#exit !== false) this.#exit(0);
        return report;
      });
    }
    return this.#running;
  }

  #removeSignals(): void {
    for (const [name, handler] of this.#signalHandlers) process.off(name, handler);
    this.#signalHandlers.length = 0;
  }

  #emit(event: ShutdownStepEvent): void {
    this.#steps.emit(event);
  }

  async #run(reason: string): Promise<ShutdownReport> {
    this.#state = 'running';
    const started = this.#clock.now();
    const steps: ShutdownStepEvent[] = [];
    const run = async (
      step: ShutdownStep | 'readiness',
      work: (fail: (target: string | undefined, error: unknown) => void) => Promise<void> | void,
    ): Promise<void> => {
      const at = this.#clock.now();
      const errors: ShutdownStepFailedError[] = [];
      const fail = (target: string | undefined, error: unknown): void => {
        errors.push(
          error instanceof ShutdownStepFailedError
            ? error
            : new ShutdownStepFailedError(step, target, messageOf(error), { cause: error }),
        );
      };
      this.#emit({ step, phase: 'started', durationMs: 0, errors: [] });
      try {
        await work(fail);
      } catch (error) {
        fail(undefined, error);
      }
      const event: ShutdownStepEvent = {
        step,
        phase: errors.length === 0 ? 'done' : 'failed',
        durationMs: this.#clock.now() - at,
        errors,
      };
      steps.push(event);
      this.#emit(event);
    };

    await run('readiness', (fail) => {
      this.#opts.health?.setReady(false);
      for (const drain of this.#drains) drain.closeConnections();
      // Not awaited: the delay starts now. markDraining() reports its failures through the
      // registration's onError and never rejects.
      for (const registration of this.#registrations) {
        try {
          if (typeof registration.markDraining === 'function')
            void registration.markDraining().catch(() => {});
        } catch (error) {
          fail(registration.instance?.id, error);
        }
      }
    });
    for (const step of this.#opts.order) await run(step, (fail) => this.#step(step, fail));
    this.#state = 'done';
    for (const drain of this.#drains) drain.dispose();
    return {
      reason,
      durationMs: this.#clock.now() - started,
      steps,
      ok: steps.every((event) => event.phase === 'done'),
    };
  }

  async #step(
    step: ShutdownStep,
    fail: (target: string | undefined, error: unknown) => void,
  ): Promise<void> {
    const o = this.#opts;
    switch (step) {
      case 'delay':
        if (o.shutdownDelayMs > 0) await this.#wait(o.shutdownDelayMs);
        return;
      case 'deregister':
        await this.#all(
          step,
          this.#registrations.map((r) => ({
            target: r.instance.id,
            run: () => (typeof r.deregister === 'function' ? r.deregister() : r.close()),
          })),
          o.deregisterTimeoutMs,
          fail,
        );
        return;
      case 'stop-accepting':
        for (const drain of this.#drains) await drain.stopAccepting();
        return;
      case 'drain': {
        // Idle, then closed: every keep-alive socket ends after its response (Connection: close).
        const idle = Promise.all(this.#drains.map((drain) => drain.idle())).then(() =>
          Promise.all(this.#drains.map((drain) => drain.closed())),
        );
        const inTime = await this.#within(idle, o.drainTimeoutMs);
        if (!inTime) {
          const left = this.#drains.reduce((sum, drain) => sum + drain.inFlight, 0);
          fail(
            undefined,
            new ShutdownStepFailedError(
              step,
              undefined,
              `${left} request(s) still in flight after drainTimeoutMs ${o.drainTimeoutMs} ms were cut`,
            ),
          );
          await Promise.all(this.#drains.map((drain) => drain.forceClose()));
        }
        return;
      }
      case 'release':
        await this.#all(
          step,
          [
            ...this.#campaigns.map((c) => ({ target: `campaign ${c.id}`, run: () => c.resign() })),
            ...this.#leases.map((l) => ({ target: `lease ${l.key}`, run: () => l.release() })),
          ],
          o.releaseTimeoutMs,
          fail,
        );
        return;
      case 'hooks': {
        const controller = new AbortController();
        const deadline = this.#clock.now() + o.hooksTimeoutMs;
        for (const hook of this.#hooks) {
          const left = deadline - this.#clock.now();
          if (left <= 0 || controller.signal.aborted) {
            fail(hook.name, new Error(`not run: hooksTimeoutMs ${o.hooksTimeoutMs} ms used up`));
            continue;
          }
          const outcome = await this.#settle(
            attempt(() => hook.run({ signal: controller.signal })),
            left,
          );
          if (outcome === 'timeout') {
            controller.abort(new Error('hooksTimeoutMs elapsed'));
            fail(
              hook.name,
              new Error(`did not finish within hooksTimeoutMs ${o.hooksTimeoutMs} ms`),
            );
          } else if (outcome !== 'ok') fail(hook.name, outcome.error);
        }
        return;
      }
    }
  }

  /** Runs every part in parallel within `timeoutMs`; reports each failure or timeout. */
  async #all(
    step: ShutdownStep,
    parts: { target: string; run: () => Promise<unknown> }[],
    timeoutMs: number,
    fail: (target: string | undefined, error: unknown) => void,
  ): Promise<void> {
    await Promise.all(
      parts.map(async (part) => {
        const outcome = await this.#settle(attempt(part.run), timeoutMs);
        if (outcome === 'timeout')
          fail(part.target, new Error(`did not finish within ${timeoutMs} ms (${step})`));
        else if (outcome !== 'ok') fail(part.target, outcome.error);
      }),
    );
  }

  #settle(
    promise: Promise<unknown>,
    timeoutMs: number,
  ): Promise<'ok' | 'timeout' | { error: unknown }> {
    return new Promise((resolve) => {
      const timer = this.#clock.setTimeout(() => resolve('timeout'), timeoutMs);
      promise.then(
        () => {
          this.#clock.clearTimeout(timer);
          resolve('ok');
        },
        (error: unknown) => {
          this.#clock.clearTimeout(timer);
          resolve({ error });
        },
      );
    });
  }

  async #within(promise: Promise<unknown>, timeoutMs: number): Promise<boolean> {
    return (await this.#settle(promise, timeoutMs)) !== 'timeout';
  }

  #wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.#clock.setTimeout(resolve, ms);
    });
  }

  close(): Promise<void> {
    this.#removeSignals();
    if (this.#state === 'idle') for (const drain of this.#drains) drain.dispose();
    return Promise.resolve();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
