// "Standard OTel, lean": NodeSDK with only the HTTP instrumentation, batch processor, OTLP/HTTP
// protobuf export (OTEL_EXPORTER_OTLP_ENDPOINT), parent-based ratio sampling from OTEL_TRACES_SAMPLER*.
import { register } from 'node:module';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { NodeSDK } from '@opentelemetry/sdk-node';

register('@opentelemetry/instrumentation/hook.mjs', import.meta.url);
const sdk = new NodeSDK({ instrumentations: [new HttpInstrumentation()] });
sdk.start();
process.on('SIGTERM', () => {
  sdk.shutdown().finally(() => process.exit(0));
});
