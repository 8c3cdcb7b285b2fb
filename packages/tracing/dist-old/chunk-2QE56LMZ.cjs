'use strict';

var kernel = require('@ballast/kernel');
var module$1 = require('module');
var async_hooks = require('async_hooks');
var dc = require('diagnostics_channel');

var _documentCurrentScript = typeof document !== 'undefined' ? document.currentScript : null;
function _interopDefault (e) { return e && e.__esModule ? e : { default: e }; }

var dc__default = /*#__PURE__*/_interopDefault(dc);

// src/errors.ts
var TracingError = class extends kernel.BallastError {
  static brand = /* @__PURE__ */ Symbol.for("@ballast/tracing.error");
};
var InvalidOptionsError = class extends kernel.invalidOptionsError(TracingError) {
};
var isTracingError = kernel.errorGuard(TracingError);
function requireHere(id) {
  const base = typeof __filename === "string" ? __filename : (typeof document === 'undefined' ? require('u' + 'rl').pathToFileURL(__filename).href : (_documentCurrentScript && _documentCurrentScript.tagName.toUpperCase() === 'SCRIPT' && _documentCurrentScript.src || new URL('chunk-2QE56LMZ.cjs', document.baseURI).href));
  return module$1.createRequire(base)(id);
}
var loaded;
function api() {
  loaded ??= requireHere("@opentelemetry/api");
  return loaded;
}

// src/log.ts
function currentTraceIds() {
  const span = api().trace.getActiveSpan();
  if (span === void 0) return void 0;
  const context = span.spanContext();
  if (!api().trace.isSpanContextValid(context)) return void 0;
  return {
    traceId: context.traceId,
    spanId: context.spanId,
    traceFlags: context.traceFlags & 1 ? "01" : "00"
  };
}
var NONE = Object.freeze({});
function logFields() {
  const ids = currentTraceIds();
  if (ids === void 0) return NONE;
  return { trace_id: ids.traceId, span_id: ids.spanId, trace_flags: ids.traceFlags };
}
function pinoMixin() {
  return logFields();
}
var INSTRUMENTATION_NAMES = [
  "http",
  "undici",
  "express",
  "fastify",
  "koa",
  "ioredis",
  "pino"
];
var hasMethods = (value, names) => typeof value === "object" && value !== null && names.every((name) => typeof value[name] === "function");
var instrumentationsSchema = kernel.o.object({
  http: kernel.o.boolean().optional(),
  undici: kernel.o.boolean().optional(),
  express: kernel.o.boolean().optional(),
  fastify: kernel.o.boolean().optional(),
  koa: kernel.o.boolean().optional(),
  ioredis: kernel.o.boolean().optional(),
  pino: kernel.o.boolean().optional()
});
var schema = kernel.o.object({
  serviceName: kernel.o.string().optional(),
  exporter: kernel.o.union(
    kernel.o.oneOf(["otlp", "otlp-json", "console", "none"]),
    kernel.o.custom((v) => hasMethods(v, ["export", "shutdown"]), "a SpanExporter")
  ).optional(),
  endpoint: kernel.o.custom((v) => typeof v === "string" && URL.canParse(v), "an http(s) URL").optional(),
  headers: kernel.o.record(kernel.o.string()).optional(),
  sampler: kernel.o.union(
    kernel.o.number({ min: 0, max: 1 }),
    kernel.o.oneOf(["always_on", "always_off"]),
    kernel.o.custom((v) => hasMethods(v, ["shouldSample"]), "a Sampler")
  ).optional(),
  instrumentations: instrumentationsSchema.optional(),
  resource: kernel.o.custom(
    (v) => typeof v === "object" && v !== null && !Array.isArray(v),
    "an object of attributes"
  ).optional(),
  metrics: kernel.o.boolean().optional(),
  metricsIntervalMs: kernel.o.number({ min: 100, integer: true }).optional(),
  shutdownTimeoutMs: kernel.o.number({ min: 0, max: 6e4, integer: true }).optional(),
  handleSignals: kernel.o.boolean().optional(),
  ignoreIncomingPaths: kernel.o.array(kernel.o.string({ pattern: { regex: /^\//, expected: 'a path starting with "/"' } })).optional(),
  logLevel: kernel.o.oneOf(["none", "error", "warn", "info", "debug", "verbose", "all"]).optional()
});
var DIAG_LEVELS = {
  none: 0,
  error: 30,
  warn: 50,
  info: 60,
  debug: 70,
  verbose: 80,
  all: 9999
};
var DEFAULT_IGNORED_PATHS = ["/livez", "/readyz", "/health"];
function parseTracingOptions(input, factory = "startTracing()") {
  return kernel.parseOptions(schema, input, { factory, error: InvalidOptionsError });
}
function sdkDisabled(env) {
  return env.OTEL_SDK_DISABLED?.trim().toLowerCase() === "true";
}
function resolveConfig(options, env) {
  const warnings = [];
  const warnEnv = (name, expected) => warnings.push(`${name}=${JSON.stringify(env[name])} is not ${expected}; ignored.`);
  const exporter = exporterOf(options, env, warnEnv);
  const { sampler, parentBased } = samplerOf(options, env, warnEnv);
  const instrumentations = instrumentationsOf(options, env);
  const resource = resourceOf(options, env, warnings);
  const serviceName = options.serviceName ?? (env.OTEL_SERVICE_NAME?.trim() || void 0) ?? (typeof resource["service.name"] === "string" ? resource["service.name"] : void 0) ?? "unknown_service:node";
  const metricsEnv = env.OTEL_METRICS_EXPORTER?.trim().toLowerCase();
  const metrics = options.metrics ?? (metricsEnv !== "none" && (exporter === "otlp" || exporter === "otlp-json"));
  const metricsIntervalMs = metricsIntervalOf(options, env, warnEnv);
  const logLevel = logLevelOf(options, env, warnEnv);
  const ignoreIncomingPaths = ignoredPathsOf(options, env, warnEnv);
  return {
    serviceName,
    exporter,
    endpoint: options.endpoint,
    headers: options.headers,
    sampler,
    parentBased,
    instrumentations,
    resource,
    metrics,
    metricsIntervalMs,
    shutdownTimeoutMs: options.shutdownTimeoutMs ?? 5e3,
    handleSignals: options.handleSignals ?? true,
    ignoreIncomingPaths,
    logLevel,
    warnings
  };
}
function exporterOf(options, env, warnEnv) {
  if (options.exporter !== void 0) return options.exporter;
  const named = env.OTEL_TRACES_EXPORTER?.trim().toLowerCase();
  const protocol = (env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ?? env.OTEL_EXPORTER_OTLP_PROTOCOL)?.trim();
  if (named !== void 0 && named !== "" && !["otlp", "console", "none"].includes(named))
    warnEnv("OTEL_TRACES_EXPORTER", "otlp, console or none");
  if (protocol !== void 0 && protocol !== "" && !["http/protobuf", "http/json"].includes(protocol))
    warnEnv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf or http/json (grpc is not supported)");
  return named === "console" || named === "none" ? named : protocol === "http/json" ? "otlp-json" : "otlp";
}
function samplerOf(options, env, warnEnv) {
  if (options.sampler === "always_on") return { sampler: 1, parentBased: true };
  if (options.sampler === "always_off") return { sampler: 0, parentBased: true };
  if (options.sampler !== void 0) return { sampler: options.sampler, parentBased: true };
  const name = env.OTEL_TRACES_SAMPLER?.trim().toLowerCase();
  const arg = env.OTEL_TRACES_SAMPLER_ARG?.trim();
  let ratio = 1;
  if (arg !== void 0 && arg !== "") {
    const value = Number(arg);
    if (Number.isFinite(value) && value >= 0 && value <= 1) ratio = value;
    else warnEnv("OTEL_TRACES_SAMPLER_ARG", "a number between 0 and 1");
  }
  switch (name) {
    case void 0:
    case "":
    case "parentbased_always_on":
      return { sampler: 1, parentBased: true };
    case "parentbased_always_off":
      return { sampler: 0, parentBased: true };
    case "parentbased_traceidratio":
      return { sampler: ratio, parentBased: true };
    case "always_on":
      return { sampler: 1, parentBased: false };
    case "always_off":
      return { sampler: 0, parentBased: false };
    case "traceidratio":
      return { sampler: ratio, parentBased: false };
    default:
      warnEnv(
        "OTEL_TRACES_SAMPLER",
        "a supported sampler (parentbased_traceidratio, always_on, \u2026)"
      );
      return { sampler: 1, parentBased: true };
  }
}
function instrumentationsOf(options, env) {
  const instrumentations = {};
  const enabled = listEnv(env.OTEL_NODE_ENABLED_INSTRUMENTATIONS);
  const disabled = listEnv(env.OTEL_NODE_DISABLED_INSTRUMENTATIONS);
  for (const name of INSTRUMENTATION_NAMES) {
    const fromEnv = (enabled === void 0 || enabled.includes(name)) && !disabled?.includes(name);
    instrumentations[name] = options.instrumentations?.[name] ?? fromEnv;
  }
  return instrumentations;
}
function resourceOf(options, env, warnings) {
  const resource = {};
  for (const pair of (env.OTEL_RESOURCE_ATTRIBUTES ?? "").split(",")) {
    const at = pair.indexOf("=");
    if (at <= 0) continue;
    try {
      resource[decodeURIComponent(pair.slice(0, at).trim())] = decodeURIComponent(
        pair.slice(at + 1).trim()
      );
    } catch {
      warnings.push(
        `OTEL_RESOURCE_ATTRIBUTES: "${pair}" is not percent-encoded correctly; ignored.`
      );
    }
  }
  Object.assign(resource, options.resource);
  return resource;
}
function metricsIntervalOf(options, env, warnEnv) {
  if (options.metricsIntervalMs !== void 0) return options.metricsIntervalMs;
  if (env.OTEL_METRIC_EXPORT_INTERVAL) {
    const value = Number(env.OTEL_METRIC_EXPORT_INTERVAL);
    if (Number.isInteger(value) && value >= 100) return value;
    warnEnv("OTEL_METRIC_EXPORT_INTERVAL", "a whole number of milliseconds >= 100");
  }
  return 6e4;
}
function logLevelOf(options, env, warnEnv) {
  if (options.logLevel !== void 0) return options.logLevel;
  const levelEnv = env.OTEL_LOG_LEVEL?.trim().toLowerCase();
  if (levelEnv) {
    if (Object.hasOwn(DIAG_LEVELS, levelEnv)) return levelEnv;
    warnEnv("OTEL_LOG_LEVEL", "none, error, warn, info, debug, verbose or all");
  }
  return "warn";
}
function ignoredPathsOf(options, env, warnEnv) {
  if (options.ignoreIncomingPaths !== void 0) return options.ignoreIncomingPaths;
  const ignoreEnv = env.BALLAST_TRACING_IGNORE_PATHS;
  if (ignoreEnv === void 0) return DEFAULT_IGNORED_PATHS;
  const paths = ignoreEnv.split(",").map((entry) => entry.trim()).filter(Boolean);
  if (paths.every((path) => path.startsWith("/"))) return paths;
  warnEnv("BALLAST_TRACING_IGNORE_PATHS", 'a comma-separated list of paths starting with "/"');
  return DEFAULT_IGNORED_PATHS;
}
function listEnv(value) {
  if (value === void 0 || value.trim() === "") return void 0;
  return value.split(",").map((entry) => entry.trim().toLowerCase()).filter(Boolean);
}
function warn(message, code) {
  process.emitWarning(message, { type: "BallastTracingWarning", code });
}
function requireCache() {
  try {
    const require2 = module$1.createRequire(typeof __filename === "string" ? __filename : (typeof document === 'undefined' ? require('u' + 'rl').pathToFileURL(__filename).href : (_documentCurrentScript && _documentCurrentScript.tagName.toUpperCase() === 'SCRIPT' && _documentCurrentScript.src || new URL('chunk-2QE56LMZ.cjs', document.baseURI).href)));
    return require2.cache;
  } catch {
    return {};
  }
}
function loadedPackages(names) {
  const found = /* @__PURE__ */ new Set();
  for (const file of Object.keys(requireCache())) {
    for (const name of names) {
      if (!found.has(name) && file.includes(`/node_modules/${name}/`)) found.add(name);
    }
  }
  return [...found];
}
function apiCopies() {
  const dirs = /* @__PURE__ */ new Set();
  const marker = "/node_modules/@opentelemetry/api/";
  for (const file of Object.keys(requireCache())) {
    const at = file.lastIndexOf(marker);
    if (at !== -1) dirs.add(file.slice(0, at + marker.length - 1));
  }
  return [...dirs];
}
var DELETED = /* @__PURE__ */ Symbol("deleted");
var COMPACT_AT = 32;
var ChainContext = class _ChainContext {
  #parent;
  #key;
  #value;
  #depth;
  constructor(parent, key, value) {
    this.#parent = parent;
    this.#key = key;
    this.#value = value;
    this.#depth = parent === void 0 ? 0 : parent.#depth + 1;
  }
  getValue(key) {
    for (let link = this; link !== void 0; link = link.#parent)
      if (link.#key === key) return link.#value === DELETED ? void 0 : link.#value;
    return void 0;
  }
  setValue(key, value) {
    const base = this.#depth < COMPACT_AT ? this : this.#compacted();
    return new _ChainContext(base, key, value);
  }
  deleteValue(key) {
    return this.getValue(key) === void 0 ? this : this.setValue(key, DELETED);
  }
  /** The same entries (latest value of each key), one link each. */
  #compacted() {
    const latest = /* @__PURE__ */ new Map();
    for (let link = this; link !== void 0; link = link.#parent)
      if (link.#key !== void 0 && !latest.has(link.#key)) latest.set(link.#key, link.#value);
    let chain = ROOT;
    for (const [key, value] of [...latest].reverse())
      if (value !== DELETED) chain = new _ChainContext(chain, key, value);
    return chain;
  }
};
var ROOT = new ChainContext(void 0, void 0, void 0);
var AlsContextManager = class {
  #storage = new async_hooks.AsyncLocalStorage();
  /** The empty context (a {@link ChainContext}: everything derived from it is one too). */
  root = ROOT;
  active() {
    return this.#storage.getStore() ?? ROOT;
  }
  with(context, fn, thisArg, ...args) {
    const target = thisArg === void 0 ? fn : fn.bind(thisArg);
    return this.#storage.run(context, target, ...args);
  }
  bind(context, target) {
    if (typeof target !== "function") return target;
    const storage = this.#storage;
    const fn = target;
    return function bound(...args) {
      return storage.run(context, () => fn.apply(this, args));
    };
  }
  /** Makes `context` active from here on in this synchronous run (see the class comment). */
  enter(context) {
    this.#storage.enterWith(context);
  }
  enable() {
    return this;
  }
  disable() {
    this.#storage.disable();
    return this;
  }
};

// src/exporters.ts
var CountingExporter = class {
  stats = { spansExported: 0, exportFailures: 0, lastExportError: void 0 };
  #exporter;
  #create;
  constructor(create) {
    this.#create = create;
  }
  export(spans, done) {
    try {
      this.#exporter ??= this.#create();
    } catch (error) {
      this.#failed(error);
      done({ code: 1, error });
      return;
    }
    this.#exporter.export(spans, (result) => {
      if (result.code === 0) this.stats.spansExported += spans.length;
      else this.#failed(result.error ?? new Error("export failed"));
      done(result);
    });
  }
  #failed(error) {
    this.stats.exportFailures += 1;
    this.stats.lastExportError = error instanceof Error ? error.message : String(error);
  }
  async forceFlush() {
    await this.#exporter?.forceFlush?.();
  }
  async shutdown() {
    await this.#exporter?.shutdown();
  }
};
function otlpUrl(config, signal) {
  if (config.endpoint === void 0) return void 0;
  return `${config.endpoint.replace(/\/+$/, "")}/v1/${signal}`;
}
function createSpanExporter(config) {
  const exporter = config.exporter;
  if (typeof exporter === "object") return exporter;
  if (exporter === "console") {
    const { ConsoleSpanExporter } = requireHere(
      "@opentelemetry/sdk-trace"
    );
    return new ConsoleSpanExporter();
  }
  const url = otlpUrl(config, "traces");
  const options = {
    ...url !== void 0 && { url },
    ...config.headers !== void 0 && { headers: config.headers }
  };
  if (exporter === "otlp-json") {
    const { OTLPTraceExporter: OTLPTraceExporter2 } = requireHere(
      "@opentelemetry/exporter-trace-otlp-http"
    );
    return new OTLPTraceExporter2(options);
  }
  const { OTLPTraceExporter } = requireHere(
    "@opentelemetry/exporter-trace-otlp-proto"
  );
  return new OTLPTraceExporter(options);
}

// src/runtime.ts
var SERVER_SPAN = /* @__PURE__ */ Symbol.for("@ballast/tracing.server-span");
var ROUTE = /* @__PURE__ */ Symbol.for("@ballast/tracing.route");

// src/instrumentations/fastify.ts
function instrumentFastify() {
  const onStart = (message) => {
    const { reply, route } = message;
    if (reply?.raw !== void 0 && typeof route?.url === "string") reply.raw[ROUTE] = route.url;
  };
  dc__default.default.subscribe("tracing:fastify.request.handler:start", onStart);
  return () => dc__default.default.unsubscribe("tracing:fastify.request.handler:start", onStart);
}
function subscribeAll(handlers) {
  const entries = Object.entries(handlers);
  for (const [channel, handler] of entries) dc__default.default.subscribe(channel, handler);
  return () => {
    for (const [channel, handler] of entries) dc__default.default.unsubscribe(channel, handler);
  };
}

// src/instrumentations/client-span.ts
function recordStatus(span, status) {
  if (!span.isRecording()) return;
  span.setAttribute("http.response.status_code", status);
  if (status >= 400) {
    span.setAttribute("error.type", String(status));
    span.setStatus({ code: api().SpanStatusCode.ERROR });
  }
}
function endAtError(span, error) {
  if (span.isRecording()) {
    span.recordException(error);
    span.setAttribute("error.type", error.code ?? error.name);
    span.setStatus({ code: api().SpanStatusCode.ERROR, message: error.message });
  }
  span.end();
}

// src/instrumentations/url.ts
var SENSITIVE_QUERY = /(^|&)(AWSAccessKeyId|Signature|sig|X-Goog-Signature)=[^&]*/g;
function redactQuery(query) {
  return query.replace(SENSITIVE_QUERY, "$1$2=REDACTED");
}
function redactPath(path) {
  const query = path.indexOf("?");
  return query === -1 ? path : path.slice(0, query + 1) + redactQuery(path.slice(query + 1));
}

// src/instrumentations/http-client.ts
var CLIENT_SPAN = /* @__PURE__ */ Symbol.for("@ballast/tracing.client-span");
function onResponseClose() {
  const span = this[CLIENT_SPAN];
  if (span === void 0) return;
  this[CLIENT_SPAN] = void 0;
  if (this.complete && this.errored == null) span.end();
  else {
    const error = this.errored ?? new Error("the response ended before its body was complete");
    if (this.errored == null) error.code = "ECONNRESET";
    endAtError(span, error);
  }
}
var requestSetter = {
  set: (request, key, value) => request.setHeader(key, value)
};
function instrumentHttpClient(rt) {
  const otel = api();
  const { tracer, propagator, contexts } = rt;
  const clientKind = { kind: otel.SpanKind.CLIENT };
  const onCreated = (message) => {
    const request = message.request;
    try {
      const active = contexts.active();
      const span = tracer.startSpan(request.method, clientKind, active);
      const context = span.spanContext();
      if (!otel.trace.isSpanContextValid(context)) return;
      if (span.isRecording()) {
        span.setAttribute("http.request.method", request.method);
        span.setAttribute("server.address", request.host);
        const authority = request.getHeader("host");
        const port = typeof authority === "string" ? /:(\d+)$/.exec(authority)?.[1] : void 0;
        if (port !== void 0) span.setAttribute("server.port", Number(port));
        const host = typeof authority === "string" ? authority : request.host;
        span.setAttribute(
          "url.full",
          `${request.protocol ?? "http:"}//${host}${redactPath(request.path)}`
        );
      }
      request[CLIENT_SPAN] = span;
      if (!request.headersSent)
        propagator.inject(otel.trace.setSpan(active, span), request, requestSetter);
    } catch (error) {
      rt.fault("http client start", error);
    }
  };
  const onResponse = (message) => {
    const { request, response } = message;
    const span = request[CLIENT_SPAN];
    if (span === void 0) return;
    request[CLIENT_SPAN] = void 0;
    recordStatus(span, response.statusCode ?? 0);
    response[CLIENT_SPAN] = span;
    response.on("close", onResponseClose);
  };
  const onError = (message) => {
    const { request, error } = message;
    const span = request[CLIENT_SPAN];
    if (span === void 0) return;
    request[CLIENT_SPAN] = void 0;
    endAtError(span, error);
  };
  return subscribeAll({
    "http.client.request.created": onCreated,
    "http.client.response.finish": onResponse,
    "http.client.request.error": onError
  });
}

// src/instrumentations/http-server.ts
var incomingGetter = {
  keys: (headers) => Object.keys(headers),
  get: (headers, key) => headers[key]
};
var SUPPRESS_TRACING = "OpenTelemetry SDK Context Key SUPPRESS_TRACING";
function instrumentHttpServer(rt, settings) {
  const otel = api();
  const { tracer, propagator, contexts } = rt;
  const root = contexts.root;
  const serverKind = { kind: otel.SpanKind.SERVER };
  const { ignorePaths } = settings;
  const untraced = root.setValue(otel.createContextKey(SUPPRESS_TRACING), true);
  const onStart = (message) => {
    const { request, response } = message;
    try {
      if (ignorePaths.size > 0 && ignorePaths.has(pathOf(request.url))) {
        contexts.enter(untraced);
        return;
      }
      const headers = request.headers;
      let parent = root;
      if (headers.traceparent !== void 0 || headers.baggage !== void 0)
        parent = propagator.extract(root, headers, incomingGetter);
      const span = tracer.startSpan(request.method ?? "HTTP", serverKind, parent);
      response[SERVER_SPAN] = span;
      if (span.isRecording()) {
        describeRequest(span, request);
        response.on("close", onClose);
      }
      contexts.enter(otel.trace.setSpan(parent, span));
    } catch (error) {
      rt.fault("http server start", error);
    }
  };
  const nameByRoute = (span, request, response) => {
    const route = response[ROUTE] ?? (settings.express ? expressRoute(request) : void 0);
    if (route === void 0) return;
    span.setAttribute("http.route", route);
    span.updateName(`${request.method} ${route}`);
  };
  const onFinish = (message) => {
    const { request, response } = message;
    const span = response[SERVER_SPAN];
    if (span === void 0) return;
    response[SERVER_SPAN] = void 0;
    try {
      if (span.isRecording()) {
        const status = response.statusCode;
        span.setAttribute("http.response.status_code", status);
        if (status >= 500) {
          span.setAttribute("error.type", String(status));
          span.setStatus({ code: otel.SpanStatusCode.ERROR });
        }
        nameByRoute(span, request, response);
      }
      span.end();
    } catch (error) {
      rt.fault("http server finish", error);
    }
  };
  function onClose() {
    const span = this[SERVER_SPAN];
    if (span === void 0) return;
    this[SERVER_SPAN] = void 0;
    try {
      span.setAttribute("error.type", "ECONNRESET");
      span.setStatus({
        code: otel.SpanStatusCode.ERROR,
        message: "the client closed the connection before the response was sent"
      });
      nameByRoute(span, this.req, this);
      span.end();
    } catch (error) {
      rt.fault("http server close", error);
    }
  }
  return subscribeAll({
    "http.server.request.start": onStart,
    "http.server.response.finish": onFinish
  });
}
function pathOf(url) {
  if (url === void 0) return "/";
  const query = url.indexOf("?");
  return query === -1 ? url : url.slice(0, query);
}
function describeRequest(span, request) {
  const url = request.url ?? "/";
  const query = url.indexOf("?");
  const host = request.headers.host;
  const encrypted = request.socket?.encrypted === true;
  span.setAttribute("http.request.method", request.method ?? "_OTHER");
  span.setAttribute("url.path", query === -1 ? url : url.slice(0, query));
  if (query !== -1 && query < url.length - 1)
    span.setAttribute("url.query", redactQuery(url.slice(query + 1)));
  span.setAttribute("url.scheme", encrypted ? "https" : "http");
  if (host !== void 0) {
    const colon = host.lastIndexOf(":");
    const bracket = host.lastIndexOf("]");
    if (colon > bracket) {
      span.setAttribute("server.address", host.slice(0, colon));
      span.setAttribute("server.port", Number(host.slice(colon + 1)));
    } else span.setAttribute("server.address", host);
  }
  const agent = request.headers["user-agent"];
  if (agent !== void 0) span.setAttribute("user_agent.original", agent);
  const peer = request.socket?.remoteAddress;
  if (peer !== void 0) span.setAttribute("network.peer.address", peer);
}
function expressRoute(request) {
  const route = request.route;
  if (route === void 0 || typeof route.path !== "string") return void 0;
  const base = request.baseUrl;
  return typeof base === "string" ? base + route.path : route.path;
}
var SPAN = /* @__PURE__ */ Symbol.for("@ballast/tracing.redis-span");
function instrumentIoredis(rt) {
  const otel = api();
  const { tracer, contexts } = rt;
  const clientKind = { kind: otel.SpanKind.CLIENT };
  const channel = dc__default.default.tracingChannel("ioredis:command");
  const handlers = {
    start(context) {
      try {
        const span = tracer.startSpan(context.command, clientKind, contexts.active());
        if (span.isRecording()) {
          span.setAttribute("db.system.name", "redis");
          span.setAttribute("db.operation.name", context.command.toUpperCase());
          if (context.args !== void 0)
            span.setAttribute("db.query.text", [context.command, ...context.args].join(" "));
          if (context.database !== void 0)
            span.setAttribute("db.namespace", String(context.database));
          if (context.serverAddress !== void 0)
            span.setAttribute("server.address", context.serverAddress);
          if (context.serverPort !== void 0)
            span.setAttribute("server.port", context.serverPort);
        }
        context[SPAN] = span;
      } catch (error) {
        rt.fault("ioredis start", error);
      }
    },
    end() {
    },
    asyncStart() {
    },
    asyncEnd(context) {
      const span = context[SPAN];
      if (span === void 0) return;
      context[SPAN] = void 0;
      span.end();
    },
    error(context) {
      const span = context[SPAN];
      if (span === void 0 || !span.isRecording()) return;
      const error = context.error;
      if (error instanceof Error) span.recordException(error);
      span.setStatus({
        code: otel.SpanStatusCode.ERROR,
        message: String(error?.message ?? error)
      });
    }
  };
  channel.subscribe(handlers);
  return () => channel.unsubscribe(handlers);
}

// src/instrumentations/module-hooks.ts
function onModuleLoad(names, patch) {
  const ritm = requireHere("require-in-the-middle");
  const iitm = requireHere("import-in-the-middle");
  const cjs = new ritm.Hook(names, (exports) => patch(exports));
  const esm = new iitm.Hook(names, (namespace) => {
    const original = namespace.default;
    const patched = patch(original);
    if (patched !== original) {
      namespace.default = patched;
      for (const key of Object.keys(namespace))
        if (namespace[key] === original) namespace[key] = patched;
    }
  });
  return () => {
    cjs.unhook();
    esm.unhook();
  };
}

// src/instrumentations/koa.ts
var PATCHED = /* @__PURE__ */ Symbol.for("@ballast/tracing.koa-patched");
function instrumentKoa() {
  return onModuleLoad(["koa"], (exports) => {
    const proto = exports?.prototype;
    if (proto === void 0 || typeof proto.createContext !== "function" || proto[PATCHED])
      return exports;
    const original = proto.createContext;
    proto.createContext = function createContext(req, res) {
      const ctx = original.call(this, req, res);
      Object.defineProperty(res, ROUTE, {
        configurable: true,
        get: () => typeof ctx._matchedRoute === "string" ? ctx._matchedRoute : void 0,
        set: (value) => Object.defineProperty(res, ROUTE, { value, writable: true, configurable: true })
      });
      return ctx;
    };
    proto[PATCHED] = true;
    return exports;
  });
}

// src/instrumentations/pino.ts
var PATCHED2 = /* @__PURE__ */ Symbol.for("@ballast/tracing.pino-patched");
function instrumentPino() {
  return onModuleLoad(["pino"], (exports) => {
    if (typeof exports !== "function" || exports[PATCHED2]) return exports;
    const original = exports;
    const pino = function pino2(...args) {
      const first = args[0];
      const isOptions = first !== null && typeof first === "object" && typeof first.write !== "function";
      if (isOptions) {
        const options = first;
        const own = options.mixin;
        args[0] = {
          ...options,
          mixin: own === void 0 ? logFields : (m, l, g) => ({ ...own(m, l, g), ...logFields() })
        };
      } else if (first === void 0) args[0] = { mixin: logFields };
      else args.unshift({ mixin: logFields });
      return original.apply(this, args);
    };
    Object.assign(pino, original);
    const self = pino;
    if (self.default === original) self.default = pino;
    if (self.pino === original) self.pino = pino;
    pino[PATCHED2] = true;
    return pino;
  });
}

// src/instrumentations/undici.ts
var CLIENT_SPAN2 = /* @__PURE__ */ Symbol.for("@ballast/tracing.undici-span");
var undiciSetter = {
  set: (request, key, value) => {
    request.addHeader(key, value);
  }
};
function instrumentUndici(rt) {
  const otel = api();
  const { tracer, propagator, contexts } = rt;
  const clientKind = { kind: otel.SpanKind.CLIENT };
  const onCreate = (message) => {
    const request = message.request;
    try {
      const active = contexts.active();
      const span = tracer.startSpan(request.method, clientKind, active);
      if (!otel.trace.isSpanContextValid(span.spanContext())) return;
      if (span.isRecording()) {
        const origin = typeof request.origin === "string" ? request.origin : request.origin.origin;
        span.setAttribute("http.request.method", request.method);
        span.setAttribute("url.full", origin + redactPath(request.path));
        try {
          const url = new URL(origin);
          span.setAttribute("server.address", url.hostname);
          if (url.port !== "") span.setAttribute("server.port", Number(url.port));
        } catch {
        }
      }
      request[CLIENT_SPAN2] = span;
      propagator.inject(otel.trace.setSpan(active, span), request, undiciSetter);
    } catch (error) {
      rt.fault("undici start", error);
    }
  };
  const onHeaders = (message) => {
    const { request, response } = message;
    const span = request[CLIENT_SPAN2];
    if (span !== void 0) recordStatus(span, response.statusCode);
  };
  const onComplete = (message) => {
    const { request } = message;
    const span = request[CLIENT_SPAN2];
    if (span === void 0) return;
    request[CLIENT_SPAN2] = void 0;
    span.end();
  };
  const onError = (message) => {
    const { request, error } = message;
    const span = request[CLIENT_SPAN2];
    if (span === void 0) return;
    request[CLIENT_SPAN2] = void 0;
    endAtError(span, error);
  };
  return subscribeAll({
    "undici:request:create": onCreate,
    "undici:request:headers": onHeaders,
    "undici:request:trailers": onComplete,
    "undici:request:error": onError
  });
}

// src/metrics.ts
var LazyMeterProvider = class {
  #provider;
  #config;
  #resource;
  constructor(config, resource) {
    this.#config = config;
    this.#resource = resource;
  }
  getMeter(name, version, options) {
    this.#provider ??= this.#create();
    return this.#provider.getMeter(name, version, options);
  }
  #create() {
    const sdk = requireHere(
      "@opentelemetry/sdk-metrics"
    );
    const url = otlpUrl(this.#config, "metrics");
    const options = {
      ...url !== void 0 && { url },
      ...this.#config.headers !== void 0 && { headers: this.#config.headers }
    };
    const module = this.#config.exporter === "otlp-json" ? "@opentelemetry/exporter-metrics-otlp-http" : "@opentelemetry/exporter-metrics-otlp-proto";
    const { OTLPMetricExporter } = requireHere(
      module
    );
    return new sdk.MeterProvider({
      resource: this.#resource(),
      readers: [
        new sdk.PeriodicExportingMetricReader({
          exporter: new OTLPMetricExporter(options),
          exportIntervalMillis: this.#config.metricsIntervalMs,
          exportTimeoutMillis: Math.min(3e4, this.#config.metricsIntervalMs)
        })
      ]
    });
  }
  async forceFlush() {
    await this.#provider?.forceFlush();
  }
  async shutdown() {
    await this.#provider?.shutdown();
  }
};

// src/start.ts
var INSTANCE = /* @__PURE__ */ Symbol.for("@ballast/tracing.instance");
var PATCHED_PACKAGES = { koa: "koa", pino: "pino" };
function startTracing(options) {
  return startEngine(options, {});
}
function activeTracing() {
  return globalThis[INSTANCE];
}
function startEngine(options, overrides) {
  const existing = globalThis[INSTANCE];
  if (existing !== void 0) {
    if (options !== void 0 && existing.status().state === "running")
      warn(
        "startTracing() was called again; tracing is already running, so these options are ignored. Call it once, before the application loads.",
        "BALLAST_TRACING_ALREADY_STARTED"
      );
    return existing;
  }
  let handle;
  try {
    handle = start(options, overrides);
  } catch (error) {
    const message = isTracingError(error, "INVALID_OPTIONS") ? `${error.message} Tracing is off (no-op).` : `Tracing could not start and is off (no-op): ${error instanceof Error ? error.message : String(error)}`;
    warn(message, "BALLAST_TRACING_START_FAILED");
    handle = noopHandle("failed", error instanceof Error ? error : new Error(String(error)), [
      message
    ]);
  }
  globalThis[INSTANCE] = handle;
  return handle;
}
function noopHandle(state, error, warnings) {
  const status = {
    state,
    serviceName: "unknown_service:node",
    instrumentations: [],
    spansExported: 0,
    exportFailures: 0,
    lastExportError: void 0,
    instrumentationFaults: 0,
    error,
    warnings
  };
  const done = async () => {
  };
  return {
    flush: done,
    shutdown: done,
    close: done,
    status: () => status,
    [Symbol.asyncDispose]: done
  };
}
function start(options, overrides) {
  const env = process.env;
  if (sdkDisabled(env) && overrides.spanProcessor === void 0)
    return noopHandle("disabled", void 0, []);
  const config = resolveConfig(parseTracingOptions(options), env);
  const warnings = [];
  const say = (message, code) => {
    warnings.push(message);
    warn(message, code);
  };
  for (const message of config.warnings) say(message, "BALLAST_TRACING_BAD_ENV");
  const otel = api();
  otel.diag.setLogger(diagLogger(say), {
    logLevel: DIAG_LEVELS[config.logLevel],
    suppressOverrideMessage: true
  });
  const { getResource, exporter, provider, contexts, propagator } = createSdk(
    otel,
    config,
    overrides,
    env,
    say
  );
  registerGlobally(otel, provider, contexts, propagator);
  const meters = config.metrics ? new LazyMeterProvider(config, getResource) : void 0;
  if (meters !== void 0) otel.metrics.setGlobalMeterProvider(meters);
  const { runtime, faults } = createRuntime(otel, provider, propagator, contexts);
  const on = INSTRUMENTATION_NAMES.filter((name) => config.instrumentations[name]);
  warnAboutLoadOrder(on, say);
  const uninstall = installInstrumentations(config, runtime, say);
  let state = "running";
  let stopping;
  const bounded = (work) => withinMs(work, config.shutdownTimeoutMs);
  const flush = async () => {
    if (state !== "running") return;
    await bounded(Promise.all([provider.forceFlush(), meters?.forceFlush()]));
  };
  const shutdown = () => {
    stopping ??= (async () => {
      for (const fn of uninstall.splice(0)) fn();
      removeSignals();
      await bounded(Promise.all([provider.shutdown(), meters?.shutdown()]));
      state = "shut-down";
      unregisterGlobally(otel, meters !== void 0, contexts);
      if (globalThis[INSTANCE] === handle) delete globalThis[INSTANCE];
    })();
    return stopping;
  };
  const removeSignals = config.handleSignals ? onSignals(shutdown, flush) : () => {
  };
  const handle = {
    flush,
    shutdown,
    close: shutdown,
    status: () => ({
      state,
      serviceName: config.serviceName,
      instrumentations: on,
      spansExported: exporter.stats.spansExported,
      exportFailures: exporter.stats.exportFailures,
      lastExportError: exporter.stats.lastExportError,
      instrumentationFaults: faults(),
      error: void 0,
      warnings
    }),
    [Symbol.asyncDispose]: shutdown
  };
  return handle;
}
function createSdk(otel, config, overrides, env, say) {
  const trace = requireHere(
    "@opentelemetry/sdk-trace"
  );
  const core = requireHere("@opentelemetry/core");
  const getResource = lazyResource(config);
  const exporter = new CountingExporter(() => createSpanExporter(config));
  const processor = overrides.spanProcessor?.(config) ?? spanProcessor(trace, config, exporter, env, say);
  const provider = new trace.TracerProvider({
    resource: getResource(),
    sampler: createSampler(trace, config),
    spanProcessors: [processor],
    // The SDK's self-observability counters (spans started/ended) would cost every span a metric
    // update; they are left off.
    meterProvider: { getMeter: () => otel.createNoopMeter() }
  });
  const contexts = new AlsContextManager();
  const propagator = new core.CompositePropagator({
    propagators: [new core.W3CTraceContextPropagator(), new core.W3CBaggagePropagator()]
  });
  return { getResource, exporter, provider, contexts, propagator };
}
function createRuntime(otel, provider, propagator, contexts) {
  let faults = 0;
  const runtime = {
    tracer: provider.getTracer("@ballast/tracing"),
    propagator,
    contexts,
    fault: (where, error) => {
      faults += 1;
      if (faults <= 3) otel.diag.warn(`@ballast/tracing: ${where} failed: ${String(error)}`);
    }
  };
  return { runtime, faults: () => faults };
}
function unregisterGlobally(otel, withMeters, contexts) {
  otel.trace.disable();
  otel.context.disable();
  otel.propagation.disable();
  if (withMeters) otel.metrics.disable();
  contexts.disable();
}
function lazyResource(config) {
  const resources = requireHere(
    "@opentelemetry/resources"
  );
  let resource;
  return () => {
    resource ??= resources.defaultResource().merge(
      resources.resourceFromAttributes({
        ...config.resource,
        "service.name": config.serviceName,
        "process.pid": process.pid,
        "process.runtime.name": "nodejs",
        "process.runtime.version": process.versions.node
      })
    );
    return resource;
  };
}
function spanProcessor(trace, config, exporter, env, say) {
  if (config.exporter === "none") return new trace.NoopSpanProcessor();
  if (config.exporter === "console") return new trace.SimpleSpanProcessor({ exporter });
  return new trace.BatchSpanProcessor({ exporter, ...batchSettings(env, say) });
}
function registerGlobally(otel, provider, contexts, propagator) {
  const registered = otel.trace.setGlobalTracerProvider(provider);
  const withContexts = registered && otel.context.setGlobalContextManager(contexts);
  if (!withContexts) {
    if (registered) otel.trace.disable();
    throw new Error(
      "another OpenTelemetry SDK is already registered in this process (a second tracing set-up, or two copies of @opentelemetry/api); start only one"
    );
  }
  otel.propagation.setGlobalPropagator(propagator);
}
function warnAboutLoadOrder(on, say) {
  const late = loadedPackages(on.flatMap((name) => PATCHED_PACKAGES[name] ?? []));
  for (const name of late)
    say(
      `${name} was loaded before tracing started, so its instrumentation does not apply to it. Start tracing first: node --import @ballast/tracing/register app.js (ESM) or --require @ballast/tracing/register (CommonJS).`,
      "BALLAST_TRACING_LOADED_TOO_EARLY"
    );
  const checkApiCopies = () => {
    const copies = apiCopies();
    if (copies.length > 1)
      say(
        `${copies.length} copies of @opentelemetry/api are loaded (${copies.join(", ")}); spans of the copies that did not register the SDK can be lost. Dedupe it (npm dedupe, one version range).`,
        "BALLAST_TRACING_API_COPIES"
      );
    return copies.length > 1;
  };
  if (!checkApiCopies()) {
    setTimeout(checkApiCopies, 1e3).unref();
  }
}
function installInstrumentations(config, runtime, say) {
  const uninstall = [];
  const install = (name, fn) => {
    if (!config.instrumentations[name]) return;
    try {
      uninstall.push(fn());
    } catch (error) {
      say(
        `the ${name} instrumentation could not be installed: ${String(error)}`,
        "BALLAST_TRACING_INSTRUMENTATION"
      );
    }
  };
  install("http", () => {
    const server = instrumentHttpServer(runtime, {
      express: config.instrumentations.express,
      ignorePaths: new Set(config.ignoreIncomingPaths)
    });
    const client = instrumentHttpClient(runtime);
    return () => {
      server();
      client();
    };
  });
  install("undici", () => instrumentUndici(runtime));
  install("fastify", instrumentFastify);
  install("koa", instrumentKoa);
  install("ioredis", () => instrumentIoredis(runtime));
  install("pino", instrumentPino);
  return uninstall;
}
async function withinMs(work, ms) {
  let timer;
  const timeout = new Promise((resolve) => {
    timer = setTimeout(resolve, ms);
  });
  try {
    await Promise.race([work.catch(() => {
    }), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
function batchSettings(env, say) {
  const settings = {};
  const read = (name, key) => {
    const raw = env[name]?.trim();
    if (raw === void 0 || raw === "") return;
    const value = Number(raw);
    if (Number.isInteger(value) && value > 0) settings[key] = value;
    else
      say(
        `${name}=${JSON.stringify(raw)} is not a positive whole number; ignored.`,
        "BALLAST_TRACING_BAD_ENV"
      );
  };
  read("OTEL_BSP_MAX_QUEUE_SIZE", "maxQueueSize");
  read("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "maxExportBatchSize");
  read("OTEL_BSP_SCHEDULE_DELAY", "scheduledDelayMillis");
  read("OTEL_BSP_EXPORT_TIMEOUT", "exportTimeoutMillis");
  return settings;
}
function createSampler(trace, config) {
  if (typeof config.sampler === "object") return config.sampler;
  const ratio = config.sampler;
  const root = ratio >= 1 ? new trace.AlwaysOnSampler() : ratio <= 0 ? new trace.AlwaysOffSampler() : new trace.TraceIdRatioBasedSampler(ratio);
  return config.parentBased ? new trace.ParentBasedSampler({ root }) : root;
}
function diagLogger(say) {
  let left = 20;
  const emit = (message, ...args) => {
    if (left <= 0) return;
    left -= 1;
    const text = [
      message,
      ...args.map((arg) => arg instanceof Error ? arg.message : String(arg))
    ].join(" ");
    say(`OpenTelemetry: ${text}`, "BALLAST_TRACING_OTEL_DIAG");
  };
  const quiet = () => {
  };
  return { error: emit, warn: emit, info: quiet, debug: quiet, verbose: quiet };
}
function onSignals(shutdown, flush) {
  const signals = ["SIGTERM", "SIGINT"];
  const handlers = /* @__PURE__ */ new Map();
  let beforeExit;
  for (const signal of signals) {
    const handler = () => {
      const alone = process.listenerCount(signal) === 1;
      if (alone) {
        void shutdown().then(() => process.kill(process.pid, signal));
      } else {
        void flush();
        if (beforeExit === void 0) {
          beforeExit = () => void shutdown();
          process.once("beforeExit", beforeExit);
        }
      }
    };
    handlers.set(signal, handler);
    process.on(signal, handler);
  }
  return () => {
    for (const [signal, handler] of handlers) process.removeListener(signal, handler);
    if (beforeExit !== void 0) process.removeListener("beforeExit", beforeExit);
  };
}

exports.InvalidOptionsError = InvalidOptionsError;
exports.TracingError = TracingError;
exports.activeTracing = activeTracing;
exports.api = api;
exports.currentTraceIds = currentTraceIds;
exports.isTracingError = isTracingError;
exports.logFields = logFields;
exports.parseTracingOptions = parseTracingOptions;
exports.pinoMixin = pinoMixin;
exports.requireHere = requireHere;
exports.resolveConfig = resolveConfig;
exports.sdkDisabled = sdkDisabled;
exports.startEngine = startEngine;
exports.startTracing = startTracing;
exports.warn = warn;
//# sourceMappingURL=chunk-2QE56LMZ.cjs.map
//# sourceMappingURL=chunk-2QE56LMZ.cjs.map