// The start-up floor of building on @opentelemetry/sdk-node: its entry point imported, nothing
// started (its import loads every exporter it supports: OTLP over gRPC/HTTP/protobuf, Zipkin,
// Prometheus, the logs SDK).
import '@opentelemetry/sdk-node';
