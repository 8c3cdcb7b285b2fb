// auto-instrumentations-node set up as its README says for ESM: the instrumentation loader hook
// first (its register entry alone installs none, and then instruments nothing imported with
// `import`), then its register entry (NodeSDK with every instrumentation, OTEL_* configuration).
import { register } from 'node:module';

register('@opentelemetry/instrumentation/hook.mjs', import.meta.url);
await import('@opentelemetry/auto-instrumentations-node/register');
