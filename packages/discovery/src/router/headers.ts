/**
 * Header handling of one proxy hop: hop-by-hop headers removed both ways (RFC 9110 §7.6.1, and
 * any header the `Connection` header names), `Forwarded` (RFC 7239) and `X-Forwarded-For|Proto|Host`
 * added, the route's header rewriting applied.
 */

/** Header values as Node and undici hand them over (lower-case names). */
export type HeaderMap = Record<string, string | string[] | undefined>;

/**
 * Whether the request headers announce a body (RFC 9112 §6.3): a non-zero `Content-Length` or a
 * `Transfer-Encoding`. Some servers hand a GET an empty stream; only announced bodies are sent.
 */
export function announcesBody(headers: HeaderMap): boolean {
  const length = headers['content-length'];
  return (length !== undefined && length !== '0') || headers['transfer-encoding'] !== undefined;
}

/**
 * Never forwarded, either way: the hop-by-hop headers, `Expect` (this hop already answered
 * `100 Continue`), the `Proxy-*` credentials meant for this hop, and `Host` (the upstream's own
 * is set, unless the route keeps the client's).
 */
const REQUEST_DROP: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'http2-settings',
  'expect',
  'host',
]);

const RESPONSE_DROP: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/** The names a `Connection` header lists (lower case), beyond `close`/`keep-alive`. */
export function connectionTokens(value: string | string[] | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  const joined = typeof value === 'string' ? value : value.join(',');
  let names: string[] | undefined;
  for (const part of joined.split(',')) {
    const name = part.trim().toLowerCase();
    if (name === '' || name === 'close' || name === 'keep-alive') continue;
    if (names === undefined) names = [name];
    else names.push(name);
  }
  return names;
}

/** How the proxy identifies the client to the upstream. */
export type ForwardedMode = 'both' | 'x-forwarded' | 'forwarded' | 'none';

/** What the forwarding headers say about the hop from the client to this proxy. */
export interface HopInfo {
  /** The peer's address (the client, or the proxy in front of this one). */
  readonly remoteAddress: string | undefined;
  /** `https` when the connection to this proxy is TLS. */
  readonly proto: 'http' | 'https';
  /** The peer is a trusted proxy: its `Forwarded`/`X-Forwarded-*` headers are kept and extended. */
  readonly trusted: boolean;
}

/** Per-route header rewriting, compiled. */
export interface HeaderRewrite {
  /** Lower-case names to remove. */
  readonly remove: ReadonlySet<string> | undefined;
  /** Lower-case name → value, set (replacing) after removal. */
  readonly set: readonly (readonly [string, string])[] | undefined;
}

/** Trace headers replaced by this hop's own when a tracing SDK instruments the upstream call. */
const TRACE_HEADERS: ReadonlySet<string> = new Set(['traceparent', 'tracestate', 'baggage']);

/**
 * The headers of the upstream request: the client's minus the hop-by-hop ones, plus the forwarding
 * headers, then the route's rewriting. `dropTrace` removes the client's trace headers (the
 * instrumentation of the upstream call writes the current span's).
 */
export function requestHeaders(
  incoming: HeaderMap,
  hop: HopInfo,
  mode: ForwardedMode,
  preserveHost: boolean,
  rewrite: HeaderRewrite | undefined,
  dropTrace: boolean,
): HeaderMap {
  const out: HeaderMap = {};
  const named =
    incoming.connection === undefined ? undefined : connectionTokens(incoming.connection);
  for (const name in incoming) {
    if (REQUEST_DROP.has(name)) continue;
    if (named?.includes(name)) continue;
    if (dropTrace && TRACE_HEADERS.has(name)) continue;
    out[name] = incoming[name];
  }
  const host = incoming.host;
  if (preserveHost && host !== undefined) out.host = host;
  if (mode !== 'none')
    forwardingHeaders(out, incoming, hop, mode, typeof host === 'string' ? host : undefined);
  if (rewrite !== undefined) applyRewrite(out, rewrite);
  return out;
}

function forwardingHeaders(
  out: HeaderMap,
  incoming: HeaderMap,
  hop: HopInfo,
  mode: ForwardedMode,
  host: string | undefined,
): void {
  const address = hop.remoteAddress;
  if (mode !== 'forwarded') {
    const prior = hop.trusted ? joined(incoming['x-forwarded-for']) : undefined;
    const self = address ?? 'unknown';
    out['x-forwarded-for'] = prior === undefined ? self : `${prior}, ${self}`;
    const proto = hop.trusted ? first(incoming['x-forwarded-proto']) : undefined;
    out['x-forwarded-proto'] = proto ?? hop.proto;
    const fwdHost = hop.trusted ? first(incoming['x-forwarded-host']) : undefined;
    const xHost = fwdHost ?? host;
    if (xHost !== undefined) out['x-forwarded-host'] = xHost;
    else delete out['x-forwarded-host'];
  } else {
    delete out['x-forwarded-for'];
    delete out['x-forwarded-proto'];
    delete out['x-forwarded-host'];
  }
  if (mode !== 'x-forwarded') {
    let element = `for=${forwardedNode(address)};proto=${hop.proto}`;
    if (host !== undefined) element += `;host="${host.replace(/["\\]/g, '')}"`;
    const prior = hop.trusted ? joined(incoming.forwarded) : undefined;
    out.forwarded = prior === undefined ? element : `${prior}, ${element}`;
  } else {
    delete out.forwarded;
  }
}

/** RFC 7239 §6 node: IPv4 as is, IPv6 bracketed and quoted, `unknown` when not known. */
function forwardedNode(address: string | undefined): string {
  if (address === undefined || address === '') return 'unknown';
  return address.includes(':') ? `"[${address}]"` : address;
}

function joined(value: string | string[] | undefined): string | undefined {
  if (value === undefined) return undefined;
  return typeof value === 'string' ? value : value.join(', ');
}

function first(value: string | string[] | undefined): string | undefined {
  if (value === undefined) return undefined;
  const text = typeof value === 'string' ? value : value[0];
  if (text === undefined) return undefined;
  const comma = text.indexOf(',');
  return (comma === -1 ? text : text.slice(0, comma)).trim() || undefined;
}

/** The upstream response's headers as the client gets them. */
export function responseHeaders(
  incoming: HeaderMap,
  rewrite: HeaderRewrite | undefined,
): HeaderMap {
  const out: HeaderMap = {};
  const named =
    incoming.connection === undefined ? undefined : connectionTokens(incoming.connection);
  for (const name in incoming) {
    if (RESPONSE_DROP.has(name)) continue;
    if (named?.includes(name)) continue;
    const value = incoming[name];
    if (value !== undefined) out[name] = value;
  }
  if (rewrite !== undefined) applyRewrite(out, rewrite);
  return out;
}

function applyRewrite(out: HeaderMap, rewrite: HeaderRewrite): void {
  if (rewrite.remove !== undefined) for (const name of rewrite.remove) delete out[name];
  if (rewrite.set !== undefined) for (const [name, value] of rewrite.set) out[name] = value;
}

/** Compiles a route's `{ set, remove }` into lower-case names. */
export function compileRewrite(
  spec:
    | { set?: Record<string, string> | undefined; remove?: readonly string[] | undefined }
    | undefined,
): HeaderRewrite | undefined {
  if (spec === undefined) return undefined;
  const remove =
    spec.remove === undefined || spec.remove.length === 0
      ? undefined
      : new Set(spec.remove.map((name) => name.toLowerCase()));
  const entries = spec.set === undefined ? [] : Object.entries(spec.set);
  const set =
    entries.length === 0
      ? undefined
      : entries.map(([name, value]) => [name.toLowerCase(), value] as const);
  if (remove === undefined && set === undefined) return undefined;
  return { remove, set };
}
