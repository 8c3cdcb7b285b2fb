import { BallastError, type ErrorGuard, errorGuard, invalidOptionsError } from '@ballast/kernel';

/** Stable codes of every error `@ballast/discovery` throws. */
export type DiscoveryErrorCode =
  | 'INVALID_OPTIONS'
  | 'SERVICE_NOT_FOUND'
  | 'NO_INSTANCE_AVAILABLE'
  | 'REGISTRY_UNAVAILABLE'
  | 'INVALID_INSTANCE'
  | 'REGISTRATION_UNSUPPORTED'
  | 'LEASE_TIMEOUT'
  | 'LEASE_LOST'
  | 'BACKEND_UNAVAILABLE'
  | 'HEALTH_CHECK_TIMEOUT'
  | 'SHUTDOWN_STEP_FAILED';

/**
 * Base class of every error thrown by `@ballast/discovery`. Carries a stable `code`; check it with
 * {@link isDiscoveryError}, which narrows to the subclass and works across two installed copies.
 */
export class DiscoveryError<
  C extends DiscoveryErrorCode = DiscoveryErrorCode,
> extends BallastError<C> {
  /** Brand shared by every copy of this package's errors. */
  static override readonly brand: symbol = Symbol.for('@ballast/discovery.error');
}

/** An option passed to a factory of this package is missing, of the wrong type or out of range. */
export class InvalidOptionsError extends invalidOptionsError(DiscoveryError) {}

/**
 * The registry has never listed an instance of this service: the name is probably misspelt, or
 * the service has not registered yet.
 */
export class ServiceNotFoundError extends DiscoveryError<'SERVICE_NOT_FOUND'> {
  /** The code this class stands for. */
  static override readonly code = 'SERVICE_NOT_FOUND';
  /** The service that was asked for. */
  readonly service: string;

  constructor(service: string, options?: { registry?: string | undefined; cause?: unknown }) {
    super(
      'SERVICE_NOT_FOUND',
      `No instance of service "${service}" is registered${options?.registry ? ` in the ${options.registry} registry` : ''}; check the service name, or start and register the service.`,
      options?.cause === undefined ? undefined : { cause: options.cause },
    );
    this.service = service;
  }
}

/**
 * The service is known but no instance can take a request now (all deregistered, draining,
 * unhealthy or ejected). Thrown at once, never after a wait; retry after `retryAfterMs`.
 */
export class NoInstanceAvailableError extends DiscoveryError<'NO_INSTANCE_AVAILABLE'> {
  /** The code this class stands for. */
  static override readonly code = 'NO_INSTANCE_AVAILABLE';
  /** The service that was asked for. */
  readonly service: string;
  /**
   * When an instance is expected back at the earliest, in milliseconds from now (e.g. the end of
   * the soonest ejection); a sensible `Retry-After` for the caller's own clients.
   */
  readonly retryAfterMs: number;

  constructor(
    service: string,
    retryAfterMs: number,
    reason?: string,
    options?: { cause?: unknown },
  ) {
    super(
      'NO_INSTANCE_AVAILABLE',
      `No instance of service "${service}" can take a request now${reason ? ` (${reason})` : ''}; retry in ${Math.ceil(retryAfterMs)} ms or answer from a fallback.`,
      options,
    );
    this.service = service;
    this.retryAfterMs = retryAfterMs;
  }
}

/**
 * The registry could not be reached or answered an error. A resolver keeps serving the last known
 * good list meanwhile (up to `maxStaleMs`), so callers usually see this only through events.
 */
export class RegistryUnavailableError extends DiscoveryError<'REGISTRY_UNAVAILABLE'> {
  /** The code this class stands for. */
  static override readonly code = 'REGISTRY_UNAVAILABLE';
  /** The registry's `kind` (`'consul'`, `'redis'`, `'dns'`, …). */
  readonly registry: string;

  constructor(registry: string, message: string, options?: { cause?: unknown }) {
    super(
      'REGISTRY_UNAVAILABLE',
      `The ${registry} registry is unavailable: ${message}. Check that it is running and reachable.`,
      options,
    );
    this.registry = registry;
  }
}

/**
 * An instance record is malformed (a port of 0, an empty address, wrong types). From
 * `register()` it is thrown; from a registry's data it is reported through `onError` and that one
 * record is skipped.
 */
export class InvalidInstanceError extends DiscoveryError<'INVALID_INSTANCE'> {
  /** The code this class stands for. */
  static override readonly code = 'INVALID_INSTANCE';
  /** The field at fault (`port`, `address`, `meta.version`, …), or `''` for the record itself. */
  readonly field: string;
  /** The offending value. */
  readonly received: unknown;

  constructor(field: string, message: string, received: unknown, options?: { cause?: unknown }) {
    super('INVALID_INSTANCE', message, options);
    this.field = field;
    this.received = received;
  }
}

/**
 * The registry is read-only: instances cannot register with it (DNS — the platform publishes the
 * records). Register with a registry that takes registrations (Redis, Consul), or let the platform
 * (Kubernetes, your DNS) publish the service.
 */
export class RegistrationUnsupportedError extends DiscoveryError<'REGISTRATION_UNSUPPORTED'> {
  /** The code this class stands for. */
  static override readonly code = 'REGISTRATION_UNSUPPORTED';
  /** The registry's `kind` (`'dns'`, …). */
  readonly registry: string;

  constructor(registry: string) {
    super(
      'REGISTRATION_UNSUPPORTED',
      `The ${registry} registry is read-only and cannot register instances; register with a registry that takes registrations (redisRegistry(), consulRegistry()), or let the platform publish the ${registry} records.`,
    );
    this.registry = registry;
  }
}

/**
 * True when `error` was thrown by any copy of `@ballast/discovery`; narrows to the subclass of
 * `code` when given: `isDiscoveryError(e, 'NO_INSTANCE_AVAILABLE') && e.retryAfterMs`.
 */
export const isDiscoveryError: ErrorGuard<DiscoveryErrors> =
  errorGuard<DiscoveryErrors>(DiscoveryError);

/** The error class of each code, as {@link isDiscoveryError} narrows to it. */
export type DiscoveryErrors = {
  /** A bad option. */
  INVALID_OPTIONS: InvalidOptionsError;
  /** An unknown service. */
  SERVICE_NOT_FOUND: ServiceNotFoundError;
  /** A known service with no instance to take the request. */
  NO_INSTANCE_AVAILABLE: NoInstanceAvailableError;
  /** A registry that cannot be reached. */
  REGISTRY_UNAVAILABLE: RegistryUnavailableError;
  /** A malformed instance record. */
  INVALID_INSTANCE: InvalidInstanceError;
  /** A read-only registry asked to register an instance. */
  REGISTRATION_UNSUPPORTED: RegistrationUnsupportedError;
  /** A lease that could not be acquired within `waitMs`. */
  LEASE_TIMEOUT: LeaseTimeoutError;
  /** A lease that is no longer held. */
  LEASE_LOST: LeaseLostError;
  /** A lease backend that cannot be reached. */
  BACKEND_UNAVAILABLE: BackendUnavailableError;
  /** A health indicator that did not answer within its `timeoutMs`. */
  HEALTH_CHECK_TIMEOUT: HealthCheckTimeoutError;
  /** A step of the graceful-shutdown sequence that failed or timed out. */
  SHUTDOWN_STEP_FAILED: ShutdownStepFailedError;
};

/**
 * `acquireLease()` could not get the lease within `waitMs`: another holder kept it. Retry later, or
 * give a longer `waitMs`.
 */
export class LeaseTimeoutError extends DiscoveryError<'LEASE_TIMEOUT'> {
  /** The code this class stands for. */
  static override readonly code = 'LEASE_TIMEOUT';
  /** The lease's key. */
  readonly key: string;
  /** How long `acquireLease()` waited, in ms. */
  readonly waitMs: number;

  constructor(key: string, waitMs: number, options?: { cause?: unknown }) {
    super(
      'LEASE_TIMEOUT',
      `The lease "${key}" is held by another owner and was not released within ${waitMs} ms; retry later or pass a longer waitMs.`,
      options,
    );
    this.key = key;
    this.waitMs = waitMs;
  }
}

/** Why a lease ended (see {@link LeaseLostError}). */
export type LeaseLostReason =
  | 'renew-failed'
  | 'expired'
  | 'stolen'
  | 'session-invalidated'
  | 'released'
  | 'shutdown';

/**
 * The lease is no longer held: a lease's `signal` aborts with this error, and `renew()` on a lost
 * lease throws it. Stop the work the lease protected; acquire it again to resume.
 */
export class LeaseLostError extends DiscoveryError<'LEASE_LOST'> {
  /** The code this class stands for. */
  static override readonly code = 'LEASE_LOST';
  /** The lease's key. */
  readonly key: string;
  /** The fencing token the lease had. */
  readonly token: number;
  /**
   * Why: `renew-failed` (no renewal succeeded in time), `expired` (the process was stalled past
   * the lease's end), `stolen` (another owner holds the key), `session-invalidated` (Consul: the
   * lease's session is gone — its TTL ran out, its node check failed, or someone destroyed it),
   * `released`, or `shutdown`.
   */
  readonly reason: LeaseLostReason;

  constructor(key: string, token: number, reason: LeaseLostReason, options?: { cause?: unknown }) {
    super(
      'LEASE_LOST',
      `The lease "${key}" (token ${token}) is no longer held (${reason}); stop the work it protected and acquire it again.`,
      options,
    );
    this.key = key;
    this.token = token;
    this.reason = reason;
  }
}

/**
 * The lease backend (Redis, Consul) could not be reached or answered an error. Check that it is running
 * and reachable; a held lease keeps renewing and aborts its signal if it cannot in time.
 */
export class BackendUnavailableError extends DiscoveryError<'BACKEND_UNAVAILABLE'> {
  /** The code this class stands for. */
  static override readonly code = 'BACKEND_UNAVAILABLE';
  /** The backend's `kind` (`'redis'`, …). */
  readonly backend: string;

  constructor(backend: string, message: string, options?: { cause?: unknown }) {
    super(
      'BACKEND_UNAVAILABLE',
      `The ${backend} lease backend is unavailable: ${message}. Check that it is running and reachable.`,
      options,
    );
    this.backend = backend;
  }
}

/**
 * A health indicator did not answer within its `timeoutMs`: it is reported `DOWN` (critical) or
 * `DEGRADED`, and its `signal` aborts with this error. Make the check faster, give it a longer
 * `timeoutMs`, or cache it (`cacheMs`).
 */
export class HealthCheckTimeoutError extends DiscoveryError<'HEALTH_CHECK_TIMEOUT'> {
  /** The code this class stands for. */
  static override readonly code = 'HEALTH_CHECK_TIMEOUT';
  /** The indicator's name. */
  readonly indicator: string;
  /** The timeout it exceeded, in ms. */
  readonly timeoutMs: number;

  constructor(indicator: string, timeoutMs: number) {
    super(
      'HEALTH_CHECK_TIMEOUT',
      `The health indicator "${indicator}" did not answer within ${timeoutMs} ms; make the check faster, give it a longer timeoutMs, or cache it with cacheMs.`,
    );
    this.indicator = indicator;
    this.timeoutMs = timeoutMs;
  }
}

/**
 * A step of the graceful-shutdown sequence failed or did not finish within its timeout. The
 * sequence reports it (`onStep`) and goes on with the next step; the process still exits.
 */
export class ShutdownStepFailedError extends DiscoveryError<'SHUTDOWN_STEP_FAILED'> {
  /** The code this class stands for. */
  static override readonly code = 'SHUTDOWN_STEP_FAILED';
  /** The step (`deregister`, `drain`, `release`, `hooks`, …). */
  readonly step: string;
  /** Which part of the step failed (a hook's or a server's name), when the step has several. */
  readonly target: string | undefined;

  constructor(
    step: string,
    target: string | undefined,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(
      'SHUTDOWN_STEP_FAILED',
      `The shutdown step "${step}"${target === undefined ? '' : ` (${target})`} failed: ${message}. The sequence went on with the next step.`,
      options,
    );
    this.step = step;
    this.target = target;
  }
}
