import { monitorEventLoopDelay } from 'node:perf_hooks';
import { attempt, type Clock, o, type Subscription, systemClock } from '@ballast/kernel';
import { HealthCheckTimeoutError, InvalidOptionsError } from '../errors.ts';
import { parse } from '../options.ts';
import { type HealthStatus, httpStatusOf, isHealthStatus, worse } from './status.ts';
import { untraced } from './untraced.ts';

/** What a health indicator's `check()` receives. */
export interface CheckContext {
  /** Aborts when the check's `timeoutMs` has passed (the result is then reported as timed out). */
  readonly signal: AbortSignal;
}

/** What a health indicator's `check()` answers: a status, or a status with details. */
export interface IndicatorResult {
  /** The dependency's status. */
  readonly status: HealthStatus;
  /** Shown by `/health` when details are allowed (never by `/livez` or `/readyz`). */
  readonly details?: Readonly<Record<string, unknown>> | undefined;
}

/**
 * One dependency's health check. Built-in ones: `redisIndicator()`, `breakerIndicator()`,
 * `registrationIndicator()`, `resolverIndicator()`, `leaseIndicator()`, `campaignIndicator()`; or
 * write your own object.
 */
export interface HealthIndicator {
  /** Unique name, the key of the component in `/health` (`redis`, `orders-breaker`, …). */
  readonly name: string;
  /**
   * `true`: the service cannot work without it — it counts for `/readyz`, and its status counts
   * as is. `false` (default): it counts only for `/health`, where `DOWN` and `OUT_OF_SERVICE` are
   * lowered to `DEGRADED`.
   */
  readonly critical?: boolean | undefined;
  /** How long the check may take, in ms; then it is cut and reported. Default: `createHealth()`'s `timeoutMs`. */
  readonly timeoutMs?: number | undefined;
  /** Reuse a result for this long, in ms (expensive checks). Default `0`: every probe checks (concurrent probes share one check). */
  readonly cacheMs?: number | undefined;
  /** Checks the dependency. May throw or reject: that is reported as `DOWN` with the message. */
  check(
    context: CheckContext,
  ): HealthStatus | IndicatorResult | Promise<HealthStatus | IndicatorResult>;
}

/** One component of a {@link HealthReport}. */
export interface ComponentHealth {
  /** The component's status as reported (before a non-critical one is lowered to `DEGRADED`). */
  readonly status: HealthStatus;
  /** Whether it counts for readiness. */
  readonly critical: boolean;
  /** How long the check took, in ms (of the health's clock). */
  readonly durationMs: number;
  /** The indicator's details, if any. */
  readonly details?: Readonly<Record<string, unknown>> | undefined;
  /** Why it is not `UP` when the check threw or timed out: the error's message. */
  readonly error?: string | undefined;
  /** `true` when the check did not answer within its `timeoutMs`. */
  readonly timedOut?: boolean | undefined;
  /** `true` when this result came from the cache (`cacheMs`). */
  readonly cached?: boolean | undefined;
}

/** What a probe answers: the aggregate status, its HTTP code, and each component. */
export interface HealthReport {
  /** The aggregate status. */
  readonly status: HealthStatus;
  /** `200` for `UP`/`DEGRADED`, `503` for `OUT_OF_SERVICE`/`DOWN`. */
  readonly httpStatus: 200 | 503;
  /** Each component by name (`eventLoop`, `readiness` and every indicator that was checked). */
  readonly components: Readonly<Record<string, ComponentHealth>>;
}

/** Options of {@link createHealth}. */
export interface HealthOptions {
  /** The dependencies to check (more can be added later with `health.add()`). Default none. */
  indicators?: readonly HealthIndicator[] | undefined;
  /**
   * Default `timeoutMs` of every indicator, in ms. Default `500`: well inside Kubernetes' default
   * probe `timeoutSeconds: 1`, so a hanging dependency gives a `503`, not a probe timeout.
   */
  timeoutMs?: number | undefined;
  /**
   * `/livez` answers `DOWN` when the longest event-loop delay since the previous liveness check
   * (measured with `perf_hooks.monitorEventLoopDelay`) exceeds this, in ms. Default `2000`;
   * `false` turns the check off.
   */
  maxEventLoopDelayMs?: number | false | undefined;
  /** Whether the service starts ready (`/readyz` 200). Default `true`; pass `false` and call `setReady(true)` after warm-up. */
  ready?: boolean | undefined;
  /** Time source of timeouts, durations and caching. Default: the system clock. */
  clock?: Clock | undefined;
}

/** The health of one process: what `/livez`, `/readyz` and `/health` answer. */
export interface Health extends AsyncDisposable {
  /** Liveness: the process itself (event-loop delay). Never affected by readiness or shutdown. */
  live(): Promise<HealthReport>;
  /** Readiness: `OUT_OF_SERVICE` when not ready (or shutting down), else the worst critical indicator. */
  ready(): Promise<HealthReport>;
  /** Everything, for humans and dashboards: liveness, readiness and every indicator. */
  check(): Promise<HealthReport>;
  /** Whether readiness is on (`setReady`). */
  readonly isReady: boolean;
  /** Turns readiness on or off: `false` makes `/readyz` answer `OUT_OF_SERVICE` (503) at once. */
  setReady(ready: boolean): void;
  /** Adds an indicator (e.g. a registration made after the server listens); dispose to remove it. */
  add(indicator: HealthIndicator): Subscription;
  /** Stops the event-loop monitor. Probes still answer. Idempotent. */
  close(): Promise<void>;
}

const indicatorSchema = o.custom<HealthIndicator>(
  (value) =>
    typeof value === 'object' &&
    value !== null &&
    typeof (value as HealthIndicator).name === 'string' &&
    (value as HealthIndicator).name.length > 0 &&
    typeof (value as HealthIndicator).check === 'function',
  'a health indicator ({ name, check(), critical?, timeoutMs?, cacheMs? })',
);

const schema = o.object({
  indicators: o.array(indicatorSchema).default([]),
  timeoutMs: o.number({ gt: 0 }).default(500),
  maxEventLoopDelayMs: o.union(o.number({ gt: 0 }), o.literal(false)).default(2000),
  ready: o.boolean().default(true),
  clock: o.clock<Clock>().default(systemClock),
});

/** Names of the components the health object reports itself. */
const RESERVED = new Set(['eventLoop', 'readiness']);

/**
 * Creates the health of this process: liveness from the event loop, readiness you switch (the
 * shutdown sequence switches it off), and indicators for the dependencies, each checked in
 * parallel with its own timeout and optional cache. Serve it with `probes(health)` from
 * `@ballast/discovery/<framework>`.
 *
 * @example
 * const health = createHealth({ indicators: [redisIndicator(redis, { critical: true })] });
 * app.use(probes(health));
 */
export function createHealth(options: HealthOptions = {}): Health {
  const opts = parse(schema, options, 'createHealth()');
  const health = new ProcessHealth(
    opts.timeoutMs,
    opts.maxEventLoopDelayMs,
    opts.ready,
    opts.clock,
  );
  for (const indicator of opts.indicators) health.add(indicator);
  return health;
}

interface Cached {
  readonly at: number;
  readonly report: ComponentHealth;
}

/** Runs one indicator: timeout, cache, and one shared check for concurrent probes. */
class IndicatorRunner {
  readonly indicator: HealthIndicator;
  readonly critical: boolean;
  readonly #timeoutMs: number;
  readonly #cacheMs: number;
  readonly #clock: Clock;
  #last: Cached | undefined;
  #running: Promise<ComponentHealth> | undefined;

  constructor(indicator: HealthIndicator, defaultTimeoutMs: number, clock: Clock) {
    this.indicator = indicator;
    this.critical = indicator.critical === true;
    this.#timeoutMs =
      positive(indicator.timeoutMs, 'timeoutMs', indicator.name) ?? defaultTimeoutMs;
    this.#cacheMs = positive(indicator.cacheMs, 'cacheMs', indicator.name) ?? 0;
    this.#clock = clock;
  }

  run(): Promise<ComponentHealth> {
    const last = this.#last;
    if (last !== undefined && this.#clock.now() - last.at < this.#cacheMs)
      return Promise.resolve({ ...last.report, cached: true });
    this.#running ??= this.#check().finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  #check(): Promise<ComponentHealth> {
    const clock = this.#clock;
    const started = clock.now();
    const controller = new AbortController();
    const critical = this.critical;
    return new Promise<ComponentHealth>((resolve) => {
      let settled = false;
      const finish = (report: ComponentHealth): void => {
        if (settled) return;
        settled = true;
        clock.clearTimeout(timer);
        if (this.#cacheMs > 0) this.#last = { at: clock.now(), report };
        resolve(report);
      };
      // The caller (a probe) awaits this timer: it is not unref'd.
      const timer = clock.setTimeout(() => {
        const error = new HealthCheckTimeoutError(this.indicator.name, this.#timeoutMs);
        controller.abort(error);
        finish({
          status: 'DOWN',
          critical,
          durationMs: clock.now() - started,
          error: error.message,
          timedOut: true,
        });
      }, this.#timeoutMs);
      untraced(() => attempt(() => this.indicator.check({ signal: controller.signal }))).then(
        (result) => finish(toComponent(result, critical, clock.now() - started)),
        (error: unknown) =>
          finish({
            status: 'DOWN',
            critical,
            durationMs: clock.now() - started,
            error: error instanceof Error ? error.message : String(error),
          }),
      );
    });
  }
}

function positive(value: unknown, option: string, name: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'number' && Number.isFinite(value) && value >= 0) return value;
  throw new InvalidOptionsError({
    option: `indicators.${name}.${option}`,
    received: value,
    message: `createHealth(): the indicator "${name}" has ${option} ${String(value)}; it must be a number >= 0 (milliseconds).`,
  });
}

function toComponent(result: unknown, critical: boolean, durationMs: number): ComponentHealth {
  if (isHealthStatus(result)) return { status: result, critical, durationMs };
  const status = (result as IndicatorResult | null)?.status;
  if (isHealthStatus(status)) {
    const details = (result as IndicatorResult).details;
    return details === undefined
      ? { status, critical, durationMs }
      : { status, critical, durationMs, details };
  }
  return {
    status: 'DOWN',
    critical,
    durationMs,
    error: `the check answered ${JSON.stringify(result) ?? String(result)}, not a status (UP, DEGRADED, OUT_OF_SERVICE, DOWN) or { status, details }`,
  };
}

class ProcessHealth implements Health {
  readonly #timeoutMs: number;
  readonly #maxDelayMs: number | false;
  readonly #clock: Clock;
  readonly #runners = new Map<string, IndicatorRunner>();
  readonly #monitor: ReturnType<typeof monitorEventLoopDelay> | undefined;
  #ready: boolean;
  #closed = false;

  constructor(timeoutMs: number, maxDelayMs: number | false, ready: boolean, clock: Clock) {
    this.#timeoutMs = timeoutMs;
    this.#maxDelayMs = maxDelayMs;
    this.#ready = ready;
    this.#clock = clock;
    if (maxDelayMs !== false) {
      this.#monitor = monitorEventLoopDelay({ resolution: 10 });
      this.#monitor.enable();
    }
  }

  get isReady(): boolean {
    return this.#ready;
  }

  setReady(ready: boolean): void {
    this.#ready = ready;
  }

  add(indicator: HealthIndicator): Subscription {
    indicatorSchema.parse(indicator, 'indicator');
    const name = indicator.name;
    if (RESERVED.has(name) || this.#runners.has(name))
      throw new InvalidOptionsError({
        option: 'indicators',
        received: name,
        message: `createHealth(): two health indicators are named "${name}" (or it is reserved: eventLoop, readiness); give each a unique name.`,
      });
    const runner = new IndicatorRunner(indicator, this.#timeoutMs, this.#clock);
    this.#runners.set(name, runner);
    const dispose = (): void => {
      if (this.#runners.get(name) === runner) this.#runners.delete(name);
    };
    return { dispose, [Symbol.dispose]: dispose };
  }

  #eventLoop(): ComponentHealth {
    const monitor = this.#monitor;
    if (monitor === undefined || this.#maxDelayMs === false)
      return { status: 'UP', critical: true, durationMs: 0 };
    // The histogram's max is in ns; a reading covers the time since the previous one.
    const delayMs = monitor.count > 0 ? Math.round(monitor.max / 1e6) : 0;
    monitor.reset();
    return {
      status: delayMs > this.#maxDelayMs ? 'DOWN' : 'UP',
      critical: true,
      durationMs: 0,
      details: { maxDelayMs: delayMs, thresholdMs: this.#maxDelayMs },
    };
  }

  #readiness(): ComponentHealth {
    return { status: this.#ready ? 'UP' : 'OUT_OF_SERVICE', critical: true, durationMs: 0 };
  }

  async live(): Promise<HealthReport> {
    const eventLoop = this.#eventLoop();
    return report(eventLoop.status, { eventLoop });
  }

  async ready(): Promise<HealthReport> {
    const readiness = this.#readiness();
    const components: Record<string, ComponentHealth> = { readiness };
    let status = readiness.status;
    const critical = [...this.#runners.values()].filter((runner) => runner.critical);
    const results = await Promise.all(critical.map((runner) => runner.run()));
    critical.forEach((runner, i) => {
      const component = results[i] as ComponentHealth;
      components[runner.indicator.name] = component;
      status = worse(status, component.status);
    });
    return report(status, components);
  }

  async check(): Promise<HealthReport> {
    const runners = [...this.#runners.values()];
    const eventLoop = this.#eventLoop();
    const readiness = this.#readiness();
    const components: Record<string, ComponentHealth> = { eventLoop, readiness };
    let status = worse(eventLoop.status, readiness.status);
    const results = await Promise.all(runners.map((runner) => runner.run()));
    runners.forEach((runner, i) => {
      const component = results[i] as ComponentHealth;
      components[runner.indicator.name] = component;
      status = worse(status, runner.critical ? component.status : lowered(component.status));
    });
    return report(status, components);
  }

  close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      this.#monitor?.disable();
    }
    return Promise.resolve();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** A non-critical dependency can make the service `DEGRADED`, never `DOWN`. */
function lowered(status: HealthStatus): HealthStatus {
  return status === 'UP' ? 'UP' : 'DEGRADED';
}

function report(status: HealthStatus, components: Record<string, ComponentHealth>): HealthReport {
  return { status, httpStatus: httpStatusOf(status), components };
}
