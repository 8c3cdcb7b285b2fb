import { api, InvalidOptionsError } from './chunk-HADH6W7O.js';
export { InvalidOptionsError, TracingError, activeTracing, currentTraceIds, isTracingError, logFields, pinoMixin, startTracing } from './chunk-HADH6W7O.js';

// src/helpers.ts
var KINDS = {
  internal: 0,
  server: 1,
  client: 2,
  producer: 3,
  consumer: 4
};
var TRACER = "@ballast/tracing";
function misuse(helper, option, expected, received) {
  throw new InvalidOptionsError({
    option,
    received,
    message: `${helper}: ${option} must be ${expected}. See "Span helpers" in the @ballast/tracing README.`
  });
}
var isThenable = (value) => value !== null && (typeof value === "object" || typeof value === "function") && typeof value.then === "function";
function fail(span, error) {
  if (!span.isRecording()) return;
  const otel = api();
  if (error instanceof Error) span.recordException(error);
  else span.recordException({ message: String(error) });
  span.setStatus({
    code: otel.SpanStatusCode.ERROR,
    message: error instanceof Error ? error.message : String(error)
  });
}
function withSpan(name, fn, options) {
  if (typeof name !== "string" || name === "")
    misuse("withSpan()", "name", "a non-empty string", name);
  if (typeof fn !== "function") misuse("withSpan()", "fn", "a function", fn);
  const kindName = options?.kind ?? "internal";
  const kind = KINDS[kindName];
  if (kind === void 0) misuse("withSpan()", "kind", Object.keys(KINDS).join(", "), kindName);
  const otel = api();
  const parent = options?.parent ?? otel.context.active();
  const span = otel.trace.getTracer(TRACER).startSpan(name, { kind }, parent);
  if (options?.attributes !== void 0 && span.isRecording())
    span.setAttributes(options.attributes);
  return otel.context.with(otel.trace.setSpan(parent, span), () => {
    let result;
    try {
      result = fn(span);
    } catch (error) {
      fail(span, error);
      span.end();
      throw error;
    }
    if (!isThenable(result)) {
      span.end();
      return result;
    }
    return result.then(
      (value) => {
        span.end();
        return value;
      },
      (error) => {
        fail(span, error);
        span.end();
        throw error;
      }
    );
  });
}
function bindContext(fn) {
  if (typeof fn !== "function") misuse("bindContext()", "fn", "a function", fn);
  const otel = api();
  return otel.context.bind(otel.context.active(), fn);
}
var carrierGetter = {
  keys: (carrier) => typeof carrier.get === "function" && typeof carrier.keys === "function" ? [...carrier.keys()] : Object.keys(carrier),
  get: (carrier, key) => {
    if (typeof carrier.get === "function")
      return carrier.get(key) ?? void 0;
    const value = carrier[key];
    return value;
  }
};
var carrierSetter = {
  set: (carrier, key, value) => {
    if (typeof carrier.set === "function")
      carrier.set(key, value);
    else carrier[key] = value;
  }
};
function inject(carrier, context) {
  if (carrier === null || typeof carrier !== "object")
    misuse("inject()", "carrier", "an object", carrier);
  const otel = api();
  otel.propagation.inject(context ?? otel.context.active(), carrier, carrierSetter);
  return carrier;
}
function extract(carrier, context) {
  if (carrier === null || typeof carrier !== "object")
    misuse("extract()", "carrier", "an object", carrier);
  const otel = api();
  return otel.propagation.extract(context ?? otel.context.active(), carrier, carrierGetter);
}

export { bindContext, extract, inject, withSpan };
//# sourceMappingURL=index.js.map
//# sourceMappingURL=index.js.map