// A server for the crash test, run as a child process: it records each run in Redis, prints
// "running", and never answers — the test SIGKILLs it mid-handler.
import { createServer } from 'node:http';
import express from 'express';
import { Redis } from 'ioredis';
import { idempotency } from '../../src/adapters/express.ts';
import { redisStore } from '../../src/index.ts';

const [url, prefix, lockTtlMs] = process.argv.slice(2) as [string, string, string];
const client = new Redis(url);
const app = express();
app.use(express.json());
app.use(idempotency({ store: redisStore({ client, prefix }), lockTtlMs: Number(lockTtlMs) }));
app.post('/payments', async () => {
  await client.incr(`${prefix}runs`);
  process.stdout.write('running\n');
});
const server = createServer(app).listen(0, '127.0.0.1', () => {
  const address = server.address() as { port: number };
  process.stdout.write(`listening http://127.0.0.1:${address.port}\n`);
});
