// Ballast as the design notes first sketched it for Fastify: `@ballast/tracing/register`
// (the SDK, the node:http server span) plus `@fastify/otel`, registered on Fastify's initialization
// as its README says for a NodeSDK set-up. It adds a request span, a handler span and a span per
// route hook under the server span, on the same tracer provider, sampler and exporter.
import '@ballast/tracing/register';
import FastifyOtelInstrumentation from '@fastify/otel';

new FastifyOtelInstrumentation({ registerOnInitialization: true });
