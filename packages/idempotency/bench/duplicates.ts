// The 100-concurrent-duplicates scenario against Ballast and each peer:
//   node packages/idempotency/bench/duplicates.ts
// For each variant: two server processes (two app instances) share one Redis; 100 identical
// requests with one Idempotency-Key are sent at once, alternating between the instances; the
// handler takes 50 ms (a card network call) and counts its runs in Redis. Exactly-once means 1.
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { payWithBody, startVariant, type Variant, withRedis } from './support.ts';

const CONCURRENT = 100;

async function scenario(variant: Variant, redisUrl: string) {
  const prefix = `dup:${variant}:${randomUUID()}:`;
  const env = { COUNT_RUNS: '1', HANDLER_DELAY_MS: '50' };
  const a = await startVariant(variant, redisUrl, env, prefix);
  const b = await startVariant(variant, redisUrl, env, prefix);
  const redis = new Redis(redisUrl);
  try {
    const key = randomUUID();
    const answers = await Promise.all(
      Array.from({ length: CONCURRENT }, (_, i) => payWithBody(i % 2 ? a.url : b.url, key)),
    );
    const runs = Number((await redis.get(`${prefix}runs`)) ?? 0);
    const statuses: Record<number, number> = {};
    for (const { status } of answers) statuses[status] = (statuses[status] ?? 0) + 1;
    const bodies = new Set(answers.filter((r) => r.status < 300).map((r) => r.body));
    return { variant, runs, statuses, distinctSuccessBodies: bodies.size };
  } finally {
    redis.disconnect();
    await Promise.all([a.stop(), b.stop()]);
  }
}

await withRedis(async (url) => {
  const rows = [];
  for (const variant of ['ballast', 'express-idempotency', 'node-idempotency'] as const) {
    rows.push(await scenario(variant, url));
  }
  console.log('| variant | handler runs | answers (status × count) | distinct 2xx bodies |');
  console.log('| --- | ---: | --- | ---: |');
  for (const r of rows) {
    const answers = Object.entries(r.statuses)
      .map(([status, count]) => `${status} × ${count}`)
      .join(', ');
    console.log(`| ${r.variant} | ${r.runs} | ${answers} | ${r.distinctSuccessBodies} |`);
  }
});
process.exit(0);
