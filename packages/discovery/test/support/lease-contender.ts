// A lease contender in a process of its own, for tests that stop (SIGSTOP/SIGCONT) or kill
// (SIGKILL) a real holder. Run by Node directly (type stripping). Argument: a JSON config.
// Reports every step as one JSON line on stdout; takes commands as lines on stdin.
//
//   mode "hold":     acquire `key`, write once to the fenced resource, report "ready"; on "write"
//                    write again WITHOUT looking at the lease (as a process that checked just
//                    before it was stopped); on "exit" release and exit.
//   mode "campaign": stand in the election `key`; report elected/lost; on SIGTERM close and exit.
//
// Every backend answer is reported with Redis's time (`at`), so the parent can check a history
// of holds on the backend's clock.
import { createInterface } from 'node:readline';
import { Redis } from 'ioredis';
import {
  acquireLease,
  campaign,
  fencedSet,
  type Lease,
  type LeaseBackend,
  redisLeaseBackend,
} from '../../src/lease/index.ts';

interface Config {
  mode: 'hold' | 'campaign';
  leaseUrl: string;
  resourceUrl?: string;
  resourceKey?: string;
  prefix: string;
  key: string;
  id: string;
  ttlMs: number;
  retryMs?: number;
}

const config = JSON.parse(process.argv[2] ?? '{}') as Config;
// Never outlive the test: exit when the parent goes away (stdin closes), and after a minute.
setTimeout(() => process.exit(2), 60_000).unref();
process.on('uncaughtException', (error) => {
  report({ event: 'error', message: String(error) });
  process.exit(1);
});
if (config.mode === 'campaign') process.stdin.on('end', () => process.exit(1)).resume();
const report = (event: Record<string, unknown>): void => {
  process.stdout.write(`${JSON.stringify(event)}\n`);
};

const leaseClient = new Redis(config.leaseUrl, { retryStrategy: () => 20 });
leaseClient.on('error', () => {});
const inner = redisLeaseBackend({ client: leaseClient, prefix: config.prefix, timeoutMs: 1000 });
const backend: LeaseBackend = {
  kind: inner.kind,
  holder: (key) => inner.holder(key),
  async acquire(key, owner, ttlMs) {
    const result = await inner.acquire(key, owner, ttlMs);
    if (result.acquired)
      report({ event: 'acquired', token: result.token, at: result.serverTimeMs });
    return result;
  },
  async renew(key, token, ttlMs) {
    const result = await inner.renew(key, token, ttlMs);
    if (result.status === 'ok') report({ event: 'renewed', token, at: result.serverTimeMs });
    return result;
  },
  async release(key, token) {
    const result = await inner.release(key, token);
    if (result.released) report({ event: 'released', token, at: result.serverTimeMs });
    return result;
  },
};

if (config.mode === 'hold') {
  const resource = new Redis(config.resourceUrl ?? '', { retryStrategy: () => 20 });
  resource.on('error', () => {});
  // As a worker would: try again after an unanswered command (a loaded machine, a paused Redis).
  let lease: Lease | undefined;
  const giveUpAt = performance.now() + 30_000;
  while (!lease) {
    try {
      lease = await acquireLease(backend, config.key, {
        ttlMs: config.ttlMs,
        waitMs: 5000,
        owner: config.id,
      });
    } catch (error) {
      if (performance.now() > giveUpAt) throw error;
      report({ event: 'retry', message: String(error) });
    }
  }
  const held = lease;
  held.onLost((reason) =>
    report({ event: 'lost', reason, beforeExpiry: performance.now() < held.expiresAt }),
  );
  const write = async (): Promise<void> => {
    const aborted = held.signal.aborted;
    const accepted = await fencedSet(
      resource,
      config.resourceKey ?? '',
      `${config.id}:${held.token}`,
      held.token,
    );
    report({ event: 'write', token: held.token, accepted, aborted });
  };
  report({ event: 'holding', token: held.token });
  await write();
  report({ event: 'ready', token: held.token });
  for await (const line of createInterface({ input: process.stdin })) {
    if (line === 'write') await write();
    if (line === 'exit') break;
  }
  await held.release();
  await Promise.all([leaseClient.quit(), resource.quit()]);
  process.exit(0);
} else {
  const election = campaign(backend, config.key, {
    id: config.id,
    ttlMs: config.ttlMs,
    retryMs: config.retryMs,
    onElected: (lease) => report({ event: 'elected', token: lease.token }),
    onLost: (reason) => report({ event: 'lost', reason }),
  });
  report({ event: 'started' });
  process.once('SIGTERM', () => {
    void election.close().then(async () => {
      await leaseClient.quit();
      process.exit(0);
    });
  });
}
