/** `node otlp/index.ts`: the receiver on its own (PORT, default 4318; OTLP_MAX_TRACES, default 500). */
import { startOtlpReceiver } from './receiver.ts';

const receiver = await startOtlpReceiver({
  port: Number(process.env.PORT ?? 4318),
  maxTraces: Number(process.env.OTLP_MAX_TRACES ?? 500),
  forward: process.env.SHOP_OTLP_FORWARD || undefined,
});
console.log(
  `otlp receiver listening ${receiver.url} (POST /v1/traces, GET /traces, GET /traces/:id)`,
);
const stop = () => void receiver.close().then(() => process.exit(0));
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
