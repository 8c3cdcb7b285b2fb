// The counting OTLP sink as a process of its own: prints "listening <url>", and on SIGTERM
// writes the span count to the file named by SINK_COUNT_FILE.
import { writeFileSync } from 'node:fs';
import { startReceiver } from '../test/fixtures/otlp-receiver.mjs';

const sink = await startReceiver({ keep: false });
console.log(`listening ${sink.url}`);
process.on('SIGTERM', () => {
  if (process.env.SINK_COUNT_FILE) writeFileSync(process.env.SINK_COUNT_FILE, String(sink.count()));
  process.exit(0);
});
