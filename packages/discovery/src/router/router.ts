import {
  type BreakerOptions,
  CircuitBreaker,
  circuitBreaker,
  type Policy,
  type RateLimiterOptions,
  RateLimiterPolicy,
  type RetryOptions,
  rateLimiter,
  type Work,
} from '@ballast/breaker';
import { breakerInterceptor } from '@ballast/breaker/undici';
import { o } from '@ballast/kernel';
import type { Dispatcher } from 'undici';
import { parse } from '../options.ts';
import type { Registry } from '../registry.ts';
import { type DiscoveryDispatcherOptions, discoveryDispatcher } from '../undici.ts';
import { compileRewrite, type ForwardedMode, type HeaderRewrite } from './headers.ts';

/** Which requests a route takes. Every given field must match. */
export interface RouteMatch {
  /**
   * Path prefix, matched on whole segments: `'/api/orders'` takes `/api/orders`,
   * `/api/orders/7` and `/api/orders?x=1`, not `/api/ordersx`. Default: every path.
   */
  pathPrefix?: string | undefined;
  /** Methods (any case). Default: every method. */
  methods?: readonly string[] | undefined;
  /**
   * Request headers (names in any case): a string must equal the value, a RegExp must match it,
   * `true` only asks for the header to be present. Default: no condition.
   */
  headers?: Readonly<Record<string, string | RegExp | true>> | undefined;
}

/** How the path is rewritten before it is sent upstream. */
export interface RouteRewrite {
  /** Remove `match.pathPrefix` from the path (`/api/orders/7` → `/7`). Default `false`. */
  stripPrefix?: boolean | undefined;
  /**
   * Put this before the path, after `stripPrefix` (`'/v2'`: `/7` → `/v2/7`). A path in `to`
   * (`http://orders/base`) is put before it too. Default: none.
   */
  addPrefix?: string | undefined;
}

/** Headers set or removed on one side of the exchange. */
export interface HeaderRewriteOptions {
  /** Headers to set, replacing what the other side sent. */
  set?: Readonly<Record<string, string>> | undefined;
  /** Headers to remove (names in any case). */
  remove?: readonly string[] | undefined;
}

/** Per-route header rewriting. */
export interface RouteHeaders {
  /** On the request sent upstream (after the forwarding headers are added). */
  request?: HeaderRewriteOptions | undefined;
  /** On the response sent back to the client (after hop-by-hop headers are removed). */
  response?: HeaderRewriteOptions | undefined;
}

/** The resilience policies of one route, from `@ballast/breaker`. */
export interface RoutePolicies {
  /**
   * Per attempt: from sending the request to the upstream's response headers, in ms; then the
   * client gets `504 UPSTREAM_TIMEOUT`. Default: the router's `timeoutMs`.
   */
  timeoutMs?: number | undefined;
  /**
   * The longest pause between two chunks of the upstream's response body, in ms; then the response
   * is cut (the client sees a truncated body). Default: the router's `bodyTimeoutMs`.
   */
  bodyTimeoutMs?: number | undefined;
  /**
   * Retries of idempotent requests (GET, HEAD, OPTIONS, PUT, DELETE, TRACE, or an
   * `Idempotency-Key` header) whose body can be sent again — in practice, requests without a body:
   * a streamed upload is never sent twice. Options of `@ballast/breaker`'s `retry()`; a `5xx`
   * answer and a failed connection are retried. On top of the discovery dispatcher's own retry on
   * another instance. Default: none.
   */
  retry?: RetryOptions | undefined;
  /**
   * A circuit breaker for this route: `circuitBreaker()` options, or your own `CircuitBreaker`
   * (to read its metrics or share it). `5xx` answers, failed connections and timeouts count as
   * failures; while open the client gets `503 BREAKER_OPEN` with `Retry-After`. Default: none.
   */
  breaker?: BreakerOptions | CircuitBreaker | undefined;
  /**
   * A token bucket for this route: `rateLimiter()` options (`{ ratePerSecond, burst }`) or your
   * own `RateLimiterPolicy`; beyond it the client gets `429 RATE_LIMITED` with `Retry-After`, and
   * the upstream is not called. Default: none.
   */
  rateLimit?: RateLimiterOptions | RateLimiterPolicy | undefined;
}

/** One route: which requests, where to, and how. */
export interface RouteOptions {
  /** A name for logs and telemetry. Default: `to` plus the path prefix. */
  id?: string | undefined;
  /** Which requests the route takes. Routes are tried in order; the first match wins. */
  match: RouteMatch;
  /**
   * Where to: `http://<service>` (resolved by the discovery dispatcher), optionally with a base
   * path (`http://orders/v1`). With your own `dispatcher` (an undici `Agent`), any origin.
   */
  to: string;
  /** Path rewriting. Default: the path is sent as it came. */
  rewrite?: RouteRewrite | undefined;
  /** Header rewriting, both ways. Default: none. */
  headers?: RouteHeaders | undefined;
  /** Timeouts, retry, circuit breaker, rate limit. Default: none beyond the router's. */
  policies?: RoutePolicies | undefined;
  /**
   * Send the client's `Host` header upstream instead of the instance's own `host:port`. The
   * client's host is always in `X-Forwarded-Host` and `Forwarded: host=`. Default `false`.
   */
  preserveHost?: boolean | undefined;
  /** Overrides the router's `maxRequestBodyBytes` for this route. */
  maxRequestBodyBytes?: number | undefined;
  /** Overrides the router's `maxResponseBodyBytes` for this route. */
  maxResponseBodyBytes?: number | undefined;
}

/** Options of {@link createRouter}. */
export interface RouterOptions {
  /**
   * Where services' instances come from: the router creates (and closes) a
   * `discoveryDispatcher({ registry, ...discovery })`. Give this or `dispatcher`.
   */
  registry?: Registry | undefined;
  /** Further options of the discovery dispatcher the router creates (balancer, retries, pool, …). */
  discovery?: Omit<DiscoveryDispatcherOptions, 'registry'> | undefined;
  /**
   * Your own undici dispatcher instead (a `discoveryDispatcher()` you share, or an `Agent` for
   * fixed origins). The router does not close it.
   */
  dispatcher?: Dispatcher | undefined;
  /**
   * Whether the peer's `Forwarded` / `X-Forwarded-*` headers are believed (kept and extended)
   * or replaced: `true` (every peer is a trusted proxy), a list of peer addresses, or a function
   * of the peer's address. Default `false`: the client's own forwarding headers are replaced.
   */
  trustProxy?: boolean | readonly string[] | ((address: string) => boolean) | undefined;
  /**
   * Which forwarding headers are written: `'both'` (`Forwarded` and `X-Forwarded-For|Proto|Host`),
   * `'x-forwarded'`, `'forwarded'`, or `'none'` (the client's pass as they came). Default `'both'`.
   */
  forwarded?: ForwardedMode | undefined;
  /**
   * The largest request body forwarded, in bytes: a larger `Content-Length` is refused at once
   * (`413 REQUEST_TOO_LARGE`), a chunked body is cut when it crosses it. Default: no limit.
   */
  maxRequestBodyBytes?: number | undefined;
  /**
   * The largest response body forwarded, in bytes: a larger `Content-Length` becomes
   * `502 RESPONSE_TOO_LARGE`, a chunked body is cut when it crosses it. Default: no limit.
   */
  maxResponseBodyBytes?: number | undefined;
  /** Default of every route's `policies.timeoutMs`. Default `30000`. */
  timeoutMs?: number | undefined;
  /** Default of every route's `policies.bodyTimeoutMs`. Default `300000`. */
  bodyTimeoutMs?: number | undefined;
}

/** A route as the router runs it. */
export interface Route {
  /** The route's `id`. */
  readonly id: string;
  /** The route's options, as given. */
  readonly options: RouteOptions;
}

/** A set of routes on one dispatcher; hand it to `proxy()` of your framework's adapter. */
export interface Router {
  /** The routes, in matching order. */
  readonly routes: readonly Route[];
  /** The first route that takes this request, or `undefined`. */
  match(
    method: string,
    path: string,
    headers?: Readonly<Record<string, string | string[] | undefined>>,
  ): Route | undefined;
  /** Closes the dispatcher the router created (not one you passed), and its policies; idempotent. */
  close(): Promise<void>;
  /** `close()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void>;
}

/** A route compiled for the request path. */
export interface CompiledRoute extends Route {
  readonly prefix: string;
  readonly methods: ReadonlySet<string> | undefined;
  readonly headerTests: readonly (readonly [string, string | RegExp | true])[] | undefined;
  readonly origin: string;
  readonly basePath: string;
  readonly stripPrefix: boolean;
  readonly preserveHost: boolean;
  readonly requestRewrite: HeaderRewrite | undefined;
  readonly responseRewrite: HeaderRewrite | undefined;
  readonly dispatcher: Dispatcher;
  readonly rateLimiter: RateLimiterPolicy | undefined;
  readonly maxRequestBodyBytes: number;
  readonly maxResponseBodyBytes: number;
  readonly headersTimeout: number;
  readonly bodyTimeout: number;
}

/** What the adapters share: the router's settings beyond the routes. */
export interface RouterSettings {
  readonly trust: (address: string | undefined) => boolean;
  readonly forwarded: ForwardedMode;
}

const headerValue = o.custom<string | RegExp | true>(
  (value) => typeof value === 'string' || value instanceof RegExp || value === true,
  'a string, a RegExp or true',
);
const rewriteSchema = o
  .object({
    set: o.record(o.string()).optional(),
    remove: o.array(o.string({ minLength: 1 })).optional(),
  })
  .optional();
const policySchema = o
  .object({
    timeoutMs: o.number({ gt: 0 }).optional(),
    bodyTimeoutMs: o.number({ gt: 0 }).optional(),
    retry: o.object({}, { passthrough: true }).optional(),
    breaker: o.object({}, { passthrough: true }).optional(),
    rateLimit: o.object({}, { passthrough: true }).optional(),
  })
  .optional();
const routeSchema = o.object({
  id: o.string({ minLength: 1 }).optional(),
  match: o.object({
    pathPrefix: o
      .string()
      .refine((p) => p === '' || p.startsWith('/'), 'a path starting with "/"')
      .optional(),
    methods: o.array(o.string({ minLength: 1 })).optional(),
    headers: o.record(headerValue).optional(),
  }),
  to: o.string().refine(isHttpUrl, 'an http:// or https:// URL such as "http://orders"'),
  rewrite: o
    .object({
      stripPrefix: o.boolean().optional(),
      addPrefix: o
        .string()
        .refine((p) => p === '' || p.startsWith('/'), 'a path starting with "/"')
        .optional(),
    })
    .optional(),
  headers: o.object({ request: rewriteSchema, response: rewriteSchema }).optional(),
  policies: policySchema,
  preserveHost: o.boolean().optional(),
  maxRequestBodyBytes: o.number({ min: 0 }).optional(),
  maxResponseBodyBytes: o.number({ min: 0 }).optional(),
});
const routerSchema = o.object({
  registry: o.unknown().optional(),
  discovery: o.object({}, { passthrough: true }).optional(),
  dispatcher: o
    .custom<Dispatcher>(
      (value) =>
        typeof value === 'object' &&
        value !== null &&
        typeof (value as Dispatcher).dispatch === 'function',
      'an undici Dispatcher (discoveryDispatcher(), an Agent, …)',
    )
    .optional(),
  trustProxy: o
    .custom<boolean | readonly string[] | ((address: string) => boolean)>(
      (value) =>
        typeof value === 'boolean' ||
        typeof value === 'function' ||
        (Array.isArray(value) && value.every((v) => typeof v === 'string')),
      'true, false, a list of addresses or a function of the address',
    )
    .optional(),
  forwarded: o.oneOf(['both', 'x-forwarded', 'forwarded', 'none']).default('both'),
  maxRequestBodyBytes: o.number({ min: 0 }).optional(),
  maxResponseBodyBytes: o.number({ min: 0 }).optional(),
  timeoutMs: o.number({ gt: 0 }).default(30_000),
  bodyTimeoutMs: o.number({ gt: 0 }).default(300_000),
});

function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.search === '';
  } catch {
    return false;
  }
}

const FACTORY = 'createRouter()';

/** A policy that runs the work as is: the breaker interceptor's slot when a route has no breaker. */
const passThrough: Policy = {
  execute<T>(fn: Work<T>): Promise<T> {
    return new Promise<T>((resolve) => resolve(fn(NEVER_ABORTED)));
  },
};
const NEVER_ABORTED = { signal: new AbortController().signal, attempt: 1 };

const BRAND = Symbol.for('@ballast/discovery.router');

/** The router behind `router`, or a TypeError naming the adapter that was given something else. */
export function routerOf(router: Router, adapter: string): RouterImpl {
  const impl = (router as unknown as Record<symbol, RouterImpl | undefined>)?.[BRAND];
  if (impl === undefined) {
    throw new TypeError(
      `${adapter} expects a router from createRouter() of @ballast/discovery/router.`,
    );
  }
  return impl;
}

/** The router implementation the adapters drive. */
export class RouterImpl implements Router {
  get [BRAND](): RouterImpl {
    return this;
  }

  readonly routes: readonly CompiledRoute[];
  readonly settings: RouterSettings;
  readonly #owned: Dispatcher | undefined;
  readonly #breakers: CircuitBreaker[];
  #closing: Promise<void> | undefined;

  constructor(
    routes: CompiledRoute[],
    settings: RouterSettings,
    owned: Dispatcher | undefined,
    breakers: CircuitBreaker[],
  ) {
    this.routes = routes;
    this.settings = settings;
    this.#owned = owned;
    this.#breakers = breakers;
  }

  match(
    method: string,
    path: string,
    headers?: Readonly<Record<string, string | string[] | undefined>>,
  ): CompiledRoute | undefined {
    const routes = this.routes;
    for (let i = 0; i < routes.length; i++) {
      const route = routes[i]!;
      if (matches(route, method, path, headers)) return route;
    }
    return undefined;
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      for (const breaker of this.#breakers) breaker.close();
      await this.#owned?.close();
    })();
    return this.#closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

function matches(
  route: CompiledRoute,
  method: string,
  path: string,
  headers: Readonly<Record<string, string | string[] | undefined>> | undefined,
): boolean {
  const prefix = route.prefix;
  if (prefix !== '') {
    if (!path.startsWith(prefix)) return false;
    if (path.length > prefix.length) {
      const next = path.charCodeAt(prefix.length);
      // the prefix ends a segment: '/' or '?' follows it
      if (next !== 47 && next !== 63) return false;
    }
  }
  if (route.methods !== undefined && !route.methods.has(method)) return false;
  const tests = route.headerTests;
  if (tests !== undefined) {
    for (const [name, test] of tests) {
      const raw = headers?.[name];
      if (raw === undefined) return false;
      if (test === true) continue;
      const value = typeof raw === 'string' ? raw : raw.join(', ');
      if (typeof test === 'string' ? value !== test : !test.test(value)) return false;
    }
  }
  return true;
}

/**
 * Creates a router: a list of routes on the discovery dispatcher. Hand it to `proxy(router)` of
 * `@ballast/discovery/express|fastify|koa|node-http|fetch`; each request goes to the first route
 * that takes it, through the route's policies, to a balanced instance of the route's service.
 *
 * @example
 * const router = createRouter(
 *   [{ match: { pathPrefix: '/api/orders' }, to: 'http://orders', rewrite: { stripPrefix: true } }],
 *   { registry: redisRegistry({ url }) },
 * );
 * http.createServer(proxy(router)).listen(8080);
 *
 * @throws InvalidOptionsError (code `INVALID_OPTIONS`) naming the bad option.
 */
export function createRouter(routes: readonly RouteOptions[], options: RouterOptions): Router {
  const parsed = parse(routerSchema, options, FACTORY);
  parse(o.object({ routes: o.array(routeSchema) }), { routes }, FACTORY);
  if ((parsed.registry === undefined) === (parsed.dispatcher === undefined)) {
    parse(
      o.custom(() => false, 'exactly one of registry or dispatcher'),
      undefined,
      FACTORY,
    );
  }
  const owned =
    parsed.dispatcher === undefined
      ? discoveryDispatcher({ ...options.discovery, registry: options.registry as Registry })
      : undefined;
  const base = parsed.dispatcher ?? owned!;
  const breakers: CircuitBreaker[] = [];
  const compiled = routes.map((route, index) => compileRoute(route, index, base, parsed, breakers));
  const trust = trustFunction(parsed.trustProxy);
  return new RouterImpl(compiled, { trust, forwarded: parsed.forwarded }, owned, breakers);
}

function compileRoute(
  route: RouteOptions,
  index: number,
  base: Dispatcher,
  defaults: {
    maxRequestBodyBytes?: number | undefined;
    maxResponseBodyBytes?: number | undefined;
    timeoutMs: number;
    bodyTimeoutMs: number;
  },
  breakers: CircuitBreaker[],
): CompiledRoute {
  const url = new URL(route.to);
  const prefix = (route.match.pathPrefix ?? '').replace(/\/+$/, '');
  const basePath = (url.pathname.replace(/\/+$/, '') + (route.rewrite?.addPrefix ?? '')).replace(
    /\/+$/,
    '',
  );
  const policies = route.policies ?? {};
  let dispatcher = base;
  if (policies.breaker !== undefined || policies.retry !== undefined) {
    let breaker: Policy = passThrough;
    if (policies.breaker instanceof CircuitBreaker) breaker = policies.breaker;
    else if (policies.breaker !== undefined) {
      const created = circuitBreaker({ name: route.id ?? `route ${index}`, ...policies.breaker });
      breakers.push(created);
      breaker = created;
    }
    dispatcher = base.compose(
      breakerInterceptor({
        breakers: { get: () => breaker },
        ...(policies.retry === undefined ? {} : { retry: policies.retry }),
      }),
    );
  }
  const limiter =
    policies.rateLimit === undefined
      ? undefined
      : policies.rateLimit instanceof RateLimiterPolicy
        ? policies.rateLimit
        : rateLimiter(policies.rateLimit);
  const headerTests =
    route.match.headers === undefined
      ? undefined
      : Object.entries(route.match.headers).map(
          ([name, test]) => [name.toLowerCase(), test] as const,
        );
  return {
    id: route.id ?? `${route.to}${prefix}`,
    options: route,
    prefix,
    methods:
      route.match.methods === undefined
        ? undefined
        : new Set(route.match.methods.map((m) => m.toUpperCase())),
    headerTests: headerTests?.length ? headerTests : undefined,
    origin: url.origin,
    basePath,
    stripPrefix: route.rewrite?.stripPrefix === true,
    preserveHost: route.preserveHost === true,
    requestRewrite: compileRewrite(route.headers?.request),
    responseRewrite: compileRewrite(route.headers?.response),
    dispatcher,
    rateLimiter: limiter,
    maxRequestBodyBytes: route.maxRequestBodyBytes ?? defaults.maxRequestBodyBytes ?? Infinity,
    maxResponseBodyBytes: route.maxResponseBodyBytes ?? defaults.maxResponseBodyBytes ?? Infinity,
    headersTimeout: policies.timeoutMs ?? defaults.timeoutMs,
    bodyTimeout: policies.bodyTimeoutMs ?? defaults.bodyTimeoutMs,
  };
}

function trustFunction(
  trust: boolean | readonly string[] | ((address: string) => boolean) | undefined,
): (address: string | undefined) => boolean {
  if (trust === undefined || trust === false) return () => false;
  if (trust === true) return () => true;
  if (typeof trust === 'function') return (address) => address !== undefined && trust(address);
  const set = new Set(trust);
  return (address) => address !== undefined && (set.has(address) || set.has(unmapped(address)));
}

/** `::ffff:10.0.0.1` → `10.0.0.1`. */
function unmapped(address: string): string {
  return address.startsWith('::ffff:') ? address.slice(7) : address;
}

/**
 * The path sent upstream for `url` (path + query) on `route`, or `undefined` when the path has dot
 * segments (`/a/../b`), which the router refuses rather than guess how the upstream resolves them.
 */
export function upstreamPath(route: CompiledRoute, url: string): string | undefined {
  if ((url.includes('/.') || url.includes('%2e') || url.includes('%2E')) && hasDotSegment(url)) {
    return undefined;
  }
  let rest = url;
  if (route.stripPrefix && route.prefix !== '') {
    rest = url.slice(route.prefix.length);
    if (rest === '' || rest.charCodeAt(0) === 63) rest = `/${rest}`;
    else if (rest.charCodeAt(0) !== 47) rest = `/${rest}`;
  }
  if (route.basePath === '') return rest;
  return rest.charCodeAt(0) === 47 && rest.length === 1 ? route.basePath : route.basePath + rest;
}

function hasDotSegment(url: string): boolean {
  const q = url.indexOf('?');
  const path = (q === -1 ? url : url.slice(0, q)).replace(/%2e/gi, '.');
  for (const segment of path.split('/')) {
    if (segment === '.' || segment === '..') return true;
  }
  return false;
}
