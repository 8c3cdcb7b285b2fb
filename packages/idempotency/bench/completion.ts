// Which fenced completion is cheapest? node packages/idempotency/bench/completion.ts
//
// Each way of completing a claimed key is run the way the store runs it: PAIRS keys are claimed
// with SET NX GET first, then completed, CONCURRENCY completions in flight on one ioredis client
// (WATCH needs a connection of its own per completion, so it gets a pool). Reported per way:
// completions per second (client and Redis together, on this shared machine), what Redis itself
// spent per completion (`INFO commandstats` usec_per_call of the completing command, summed over
// its commands), which the machine's noise does not blur, and the CPU time of this process (the
// client: ioredis building and writing the commands, parsing the answers) per completion. Rounds
// alternate the order of the ways; medians are printed.
//
// Ways, all keeping the guarantee "a late owner whose lock expired never overwrites":
// - script by EVALSHA directly, record as a string: the store's script (GET, compare, SET) by
//                  ioredis's generic EVALSHA with every argument a string — what the store sends
//                  for a text payload (it loads the script with EVAL; here SCRIPT LOAD does)
// - script by defineCommand, record as a string / as a Buffer: the same through ioredis
//                  defineCommand (its wrapper: a command subclass, an extra promise per call); a
//                  Buffer record makes ioredis assemble the command in a buffer of its own
// - script-short:  the same check in the shortest script (one comparison, SET's own reply)
// - watch-multi:   WATCH key, GET, compare, MULTI SET EXEC (a connection per completion)
// and, as the unfenced floor (NOT safe: overwrites whatever is there):
// - set-xx:        SET key value PX ttl XX
import { createHash, randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { withRedis } from './support.ts';

const PAIRS = Number(process.env.PAIRS ?? 20_000);
const CONCURRENCY = 16;
const ROUNDS = Number(process.env.ROUNDS ?? 5);
const TTL = 86_400_000;

const COMPLETE = `if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3]) return 1`;
const COMPLETE_SHORT = `if redis.call('GET',KEYS[1])==ARGV[1] then return redis.call('SET',KEYS[1],ARGV[2],'PX',ARGV[3]) end`;
const sha1 = (text: string) => createHash('sha1').update(text).digest('hex');

type Complete = (key: string, lock: string, done: Buffer, text: string) => Promise<boolean>;
interface Way {
  name: string;
  /** Commands whose usec Redis spends on the completion. */
  commands: string[];
  setUp(url: string): Promise<{ complete: Complete; close(): void }>;
}

const record = Buffer.alloc(200, 0x43);
const recordText = record.toString('latin1'); // the same 200 bytes (ASCII), as a string

/** A client with `lua` defined as its `complete` command through ioredis's defineCommand. */
function definedScript(url: string, lua: string) {
  const client = new Redis(url);
  client.defineCommand('complete', { numberOfKeys: 1, lua });
  const defined = client as Redis & {
    complete(key: string, lock: string, record: string | Buffer, ttl: number): Promise<unknown>;
  };
  return {
    complete: defined.complete.bind(defined),
    close: () => client.disconnect(),
  };
}

const ways: Way[] = [
  {
    name: 'script by defineCommand, record as a string',
    commands: ['evalsha', 'eval'],
    async setUp(url) {
      const { complete, close } = definedScript(url, COMPLETE);
      return {
        complete: async (key, lock, _done, text) => (await complete(key, lock, text, TTL)) === 1,
        close,
      };
    },
  },
  {
    name: 'script by defineCommand, record as a Buffer',
    commands: ['evalsha', 'eval'],
    async setUp(url) {
      const { complete, close } = definedScript(url, COMPLETE);
      return {
        complete: async (key, lock, done) => (await complete(key, lock, done, TTL)) === 1,
        close,
      };
    },
  },
  {
    name: 'script-short',
    commands: ['evalsha', 'eval'],
    async setUp(url) {
      const { complete, close } = definedScript(url, COMPLETE_SHORT);
      return {
        complete: async (key, lock, done) => (await complete(key, lock, done, TTL)) !== null,
        close,
      };
    },
  },
  {
    name: 'script by EVALSHA directly, record as a string (the store)',
    commands: ['evalsha', 'script|load'],
    async setUp(url) {
      const client = new Redis(url);
      const sha = sha1(COMPLETE);
      await client.script('LOAD', COMPLETE);
      return {
        complete: async (key, lock, _done, text) =>
          (await client.evalsha(sha, 1, key, lock, text, TTL)) === 1,
        close: () => client.disconnect(),
      };
    },
  },
  {
    name: 'watch-multi',
    commands: ['watch', 'get', 'multi', 'set', 'exec'],
    async setUp(url) {
      // WATCH belongs to a connection: each in-flight completion needs one of its own.
      const pool = Array.from({ length: CONCURRENCY }, () => new Redis(url));
      const idle = [...pool];
      return {
        complete: async (key, lock, done) => {
          const client = idle.pop()!;
          try {
            await client.watch(key);
            if ((await client.get(key)) !== lock) {
              await client.unwatch();
              return false;
            }
            const result = await client.multi().set(key, done, 'PX', TTL).exec();
            return result !== null;
          } finally {
            idle.push(client);
          }
        },
        close: () => {
          for (const client of pool) client.disconnect();
        },
      };
    },
  },
  {
    name: 'set-xx (unfenced)',
    commands: ['set'],
    async setUp(url) {
      const client = new Redis(url);
      return {
        complete: async (key, _lock, done) =>
          (await client.set(key, done, 'PX', TTL, 'XX')) === 'OK',
        close: () => client.disconnect(),
      };
    },
  },
];

async function usecPerCall(admin: Redis): Promise<Map<string, { calls: number; usec: number }>> {
  const info = await admin.info('commandstats');
  const stats = new Map<string, { calls: number; usec: number }>();
  for (const [, name, calls, usec] of info.matchAll(/cmdstat_([^:]+):calls=(\d+),usec=(\d+)/g))
    stats.set(name!, { calls: Number(calls), usec: Number(usec) });
  return stats;
}

async function measure(
  way: Way,
  url: string,
): Promise<{ perSecond: number; usec: number; clientUsec: number }> {
  const claimer = new Redis(url);
  const admin = new Redis(url);
  const { complete, close } = await way.setUp(url);
  const prefix = `completion:${randomUUID()}:`;
  try {
    const locks: string[] = [];
    const claimAll = async (from: number, count: number) => {
      const pipeline = claimer.pipeline();
      for (let i = from; i < from + count; i++) {
        locks[i] = `Lfingerprint\n${randomUUID()}`;
        pipeline.set(`${prefix}{${i}}`, locks[i]!, 'PX', 60_000, 'NX', 'GET');
      }
      await pipeline.exec();
    };
    const completeOne = async (i: number) => {
      if (!(await complete(`${prefix}{${i}}`, locks[i]!, record, recordText)))
        throw new Error(`${way.name}: not completed`);
    };
    // Warm-up (JIT, the script loaded on its connection), then every key claimed up front, so that
    // the measured window and Redis' counters hold completions only.
    await claimAll(PAIRS, 500);
    for (let i = PAIRS; i < PAIRS + 500; i++) await completeOne(i);
    await claimAll(0, PAIRS);
    await admin.config('RESETSTAT');
    let next = 0;
    const started = process.hrtime.bigint();
    const cpu = process.cpuUsage();
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < PAIRS) await completeOne(next++);
      }),
    );
    const used = process.cpuUsage(cpu);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const stats = await usecPerCall(admin);
    let usec = 0;
    for (const name of way.commands) usec += stats.get(name)?.usec ?? 0;
    return {
      perSecond: PAIRS / seconds,
      usec: usec / PAIRS,
      clientUsec: (used.user + used.system) / PAIRS,
    };
  } finally {
    close();
    claimer.disconnect();
    admin.disconnect();
  }
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
};

await withRedis(async (url) => {
  const results = new Map<string, { rate: number[]; usec: number[]; client: number[] }>();
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? ways : [...ways].reverse();
    for (const way of order) {
      const { perSecond, usec, clientUsec } = await measure(way, url);
      const entry = results.get(way.name) ?? { rate: [], usec: [], client: [] };
      entry.rate.push(perSecond);
      entry.usec.push(usec);
      entry.client.push(clientUsec);
      results.set(way.name, entry);
    }
  }
  console.log(
    `${PAIRS} completions of claimed keys, ${CONCURRENCY} in flight, ${ROUNDS} rounds (medians)`,
  );
  console.log(
    '| completion | completions/s | Redis µs per completion | client CPU µs per completion |',
  );
  console.log('| --- | ---: | ---: | ---: |');
  for (const way of ways) {
    const { rate, usec, client } = results.get(way.name)!;
    const perSecond = Math.round(median(rate)).toLocaleString('en-US');
    console.log(
      `| ${way.name} | ${perSecond} | ${median(usec).toFixed(2)} | ${median(client).toFixed(2)} |`,
    );
  }
});
process.exit(0);
