import type { Subscription } from '@ballast/kernel';
import { type DiscoveryError, InvalidInstanceError } from './errors.ts';

/**
 * One running copy of a service, as every registry reports it (Consul, Redis, DNS or static).
 * Instances are frozen; a change in the registry produces a new object.
 */
export interface Instance {
  /** Unique within the service; stable across heartbeats (default `<address>:<port>`). */
  readonly id: string;
  /** Name of the service this instance belongs to, e.g. `orders`. */
  readonly service: string;
  /** Host name or IP address (IPv6 without brackets) to connect to. */
  readonly address: string;
  /** TCP port, 1–65535. */
  readonly port: number;
  /** Free-form labels (`v2`, `canary`, …), in registration order. */
  readonly tags: readonly string[];
  /** Free-form string metadata (`version`, `commit`, …). */
  readonly meta: Readonly<Record<string, string>>;
  /** Availability zone or rack, used by zone-aware balancing; `undefined` when unknown. */
  readonly zone: string | undefined;
  /** Relative share of traffic for the `weighted` balancer and slow start; `1` by default. */
  readonly weight: number;
  /**
   * `false` while the instance is draining or its health check fails: it gets no new requests
   * except when too few instances are healthy (the resolver's panic threshold).
   */
  readonly healthy: boolean;
}

/** What a service passes to `register()`: an {@link Instance} whose defaults are filled in. */
export interface InstanceInput {
  /** Unique within the service; default `<address>:<port>`. */
  id?: string | undefined;
  /** Service name: letters, digits, `.`, `_`, `-` (it is used as a host name in `http://<service>/`). */
  service: string;
  /** Host name or IP address other services connect to. */
  address: string;
  /** TCP port, 1–65535. */
  port: number;
  /** Free-form labels; default none. */
  tags?: readonly string[] | undefined;
  /** Free-form string metadata; default none. */
  meta?: Readonly<Record<string, string>> | undefined;
  /** Availability zone; default unknown. */
  zone?: string | undefined;
  /** Relative share of traffic, greater than 0; default `1`. */
  weight?: number | undefined;
}

/** Listener pair given to {@link Registry.watch}. */
export interface WatchEvents {
  /**
   * Called with the full current list of the service's instances (healthy or not) once it is
   * first known and again after every change. An empty list means the registry knows no instance.
   * After an `onError`, the next good read is pushed even when the list did not change: that is
   * how resolvers learn that the registry is back.
   */
  onInstances(instances: readonly Instance[]): void;
  /**
   * Called when the registry cannot be read (`REGISTRY_UNAVAILABLE`) or one of its records is
   * malformed (`INVALID_INSTANCE`, that record skipped). The watch keeps going and recovers by itself.
   */
  onError(error: DiscoveryError): void;
}

/**
 * Where instances are registered and found. Every backend (`staticRegistry`, `redisRegistry`,
 * `consulRegistry`, `dnsRegistry`, or your own) implements this, and reports the same
 * {@link Instance} shape. `list()` of a service nobody registered resolves to an empty list;
 * resolvers turn "never seen an instance" into `SERVICE_NOT_FOUND`.
 */
export interface Registry extends AsyncDisposable {
  /** Which backend this is: `'static'`, `'redis'`, `'consul'`, `'dns'`, or a user-defined name. */
  readonly kind: string;
  /**
   * Adds (or replaces, by `id`) an instance. The handle heartbeats, drains and deregisters it; most
   * services use the package's `register()` instead, which heartbeats and drains on shutdown.
   * Rejects with `INVALID_INSTANCE` for a malformed input, `REGISTRY_UNAVAILABLE` when unreachable.
   */
  register(
    instance: InstanceInput,
    options?: { signal?: AbortSignal | undefined },
  ): Promise<RegisteredInstance>;
  /** Current instances of `service`, healthy or not; `[]` when none is known. */
  list(
    service: string,
    options?: { signal?: AbortSignal | undefined },
  ): Promise<readonly Instance[]>;
  /**
   * Follows `service`: pushes the full current list on every change (and once at the start) to
   * `events.onInstances`, errors to `events.onError`. Dispose the subscription to stop.
   */
  watch(service: string, events: WatchEvents): Subscription;
  /**
   * Stops every watch, deregisters the instances registered through this registry that are still
   * registered (so a service that closes its registry leaves at once instead of after its TTL),
   * and releases connections; idempotent.
   */
  close(): Promise<void>;
}

/** Handle on one instance added with {@link Registry.register}. */
export interface RegisteredInstance {
  /** The instance as registered, defaults filled in. */
  readonly instance: Instance;
  /**
   * How often the registry wants {@link RegisteredInstance.heartbeat} called, in ms (a fraction of
   * its TTL); `undefined` when it needs no heartbeats (static, Consul with an HTTP check).
   * `register()` heartbeats at this pace unless told otherwise.
   */
  readonly heartbeatIntervalMs?: number | undefined;
  /** Tells the registry the instance is alive (renews its TTL); a no-op for registries without TTLs. */
  heartbeat(options?: { signal?: AbortSignal | undefined }): Promise<void>;
  /**
   * `true`: the instance stays listed with `healthy: false`, so clients stop sending it new
   * requests while the ones in flight finish. `false`: back to healthy.
   */
  setDraining(draining: boolean): Promise<void>;
  /** Removes the instance from the registry; idempotent. */
  deregister(options?: { signal?: AbortSignal | undefined }): Promise<void>;
}

const SERVICE_NAME = /^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,252})$/;
const ADDRESS_FORBIDDEN = /[\s/?#@[\]]/;
const MAX_TAGS = 256;
const MAX_META = 256;
const MAX_STRING = 1024;

function fail(field: string, received: unknown, what: string, service: string | undefined): never {
  const where = service ? ` of service "${service}"` : '';
  throw new InvalidInstanceError(
    field,
    `Invalid instance${where}: ${field === '' ? 'the record' : `"${field}"`} ${what} (got ${describe(received)}).`,
    received,
  );
}

function describe(value: unknown): string {
  if (typeof value === 'string')
    return JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}…` : value);
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  return String(value);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * Checks one instance record and fills in defaults; every registry runs what it reads (and what is
 * registered) through it, so garbage is rejected per record with `INVALID_INSTANCE`
 * ({@link InvalidInstanceError}, naming the field) and never crashes a watch.
 *
 * @param input a record: {@link InstanceInput} fields, plus an optional `healthy` boolean.
 * @param service the service the caller expects; used when the record has no `service`, and a
 *   record naming another service is rejected.
 * @returns a frozen {@link Instance}.
 */
export function normalizeInstance(input: unknown, service?: string | undefined): Instance {
  if (!isPlainObject(input)) fail('', input, 'must be an object', service);
  const rawService = input.service ?? service;
  if (typeof rawService !== 'string' || !SERVICE_NAME.test(rawService)) {
    fail(
      'service',
      rawService,
      'must be 1–253 letters, digits, ".", "_" or "-", starting with a letter or digit',
      service,
    );
  }
  if (service !== undefined && rawService !== service) {
    fail('service', rawService, `must be "${service}"`, service);
  }
  const { address, port } = input;
  if (
    typeof address !== 'string' ||
    address.length === 0 ||
    address.length > 253 ||
    ADDRESS_FORBIDDEN.test(address)
  ) {
    fail(
      'address',
      address,
      'must be a host name or IP address (no brackets, spaces or slashes), 1–253 characters',
      rawService,
    );
  }
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65_535) {
    fail('port', port, 'must be an integer from 1 to 65535', rawService);
  }
  let id = input.id;
  if (id === undefined || id === null) id = `${address}:${port}`;
  if (typeof id !== 'string' || id.length === 0 || id.length > MAX_STRING) {
    fail('id', id, `must be a non-empty string of at most ${MAX_STRING} characters`, rawService);
  }
  const tags = normalizeTags(input.tags, rawService);
  const meta = normalizeMeta(input.meta, rawService);
  let zone = input.zone;
  if (zone === null || zone === '') zone = undefined;
  if (zone !== undefined && (typeof zone !== 'string' || zone.length > MAX_STRING)) {
    fail('zone', zone, 'must be a string', rawService);
  }
  let weight = input.weight;
  if (weight === undefined || weight === null) weight = 1;
  if (typeof weight !== 'number' || !Number.isFinite(weight) || weight <= 0 || weight > 1_000_000) {
    fail(
      'weight',
      weight,
      'must be a number greater than 0 and at most 1000000 (to take an instance out of rotation, drain it)',
      rawService,
    );
  }
  let healthy = input.healthy;
  if (healthy === undefined || healthy === null) healthy = true;
  if (typeof healthy !== 'boolean') fail('healthy', healthy, 'must be a boolean', rawService);
  return Object.freeze({
    id,
    service: rawService,
    address,
    port,
    tags,
    meta,
    zone: zone as string | undefined,
    weight,
    healthy,
  });
}

function normalizeTags(tags: unknown, service: string): readonly string[] {
  if (tags === undefined || tags === null) return EMPTY_TAGS;
  if (!Array.isArray(tags) || tags.length > MAX_TAGS) {
    fail('tags', tags, `must be an array of at most ${MAX_TAGS} strings`, service);
  }
  for (let i = 0; i < tags.length; i++) {
    const tag: unknown = tags[i];
    if (typeof tag !== 'string' || tag.length > MAX_STRING)
      fail(`tags.${i}`, tag, 'must be a string', service);
  }
  return Object.freeze([...(tags as string[])]);
}

function normalizeMeta(meta: unknown, service: string): Readonly<Record<string, string>> {
  if (meta === undefined || meta === null) return EMPTY_META;
  if (!isPlainObject(meta)) fail('meta', meta, 'must be an object of string values', service);
  const keys = Object.keys(meta);
  if (keys.length > MAX_META) fail('meta', meta, `must have at most ${MAX_META} keys`, service);
  const out: Record<string, string> = Object.create(null);
  for (const key of keys) {
    const value = meta[key];
    if (typeof value !== 'string' || value.length > MAX_STRING)
      fail(`meta.${key}`, value, 'must be a string', service);
    out[key] = value;
  }
  return Object.freeze(out);
}

const EMPTY_TAGS: readonly string[] = Object.freeze([]);
const EMPTY_META: Readonly<Record<string, string>> = Object.freeze(Object.create(null));
