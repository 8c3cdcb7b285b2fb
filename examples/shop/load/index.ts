/**
 * `npm run shop:load -- --rps 200 --duration 30s [--checkout 0.3] [--users 20] [--gateway URL] [--issuer URL]`
 * against a running `npm run shop`: gateway and issuer URLs come from its control API
 * (SHOP_CONTROL_URL, default http://127.0.0.1:8079) unless given.
 */
import { parseArgs } from 'node:util';
import { type LoadResult, runLoad } from './load.ts';

const { values } = parseArgs({
  options: {
    rps: { type: 'string', default: '200' },
    duration: { type: 'string', default: '30s' },
    checkout: { type: 'string', default: '0.3' },
    users: { type: 'string', default: '20' },
    gateway: { type: 'string' },
    issuer: { type: 'string' },
    control: { type: 'string', default: process.env.SHOP_CONTROL_URL ?? 'http://127.0.0.1:8079' },
    json: { type: 'boolean', default: false },
  },
});

function durationMs(text: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text.trim());
  if (!match) throw new Error(`--duration ${text}: use e.g. 30s, 2m or 500ms`);
  const n = Number(match[1]);
  return match[2] === 'ms' ? n : match[2] === 'm' ? n * 60_000 : n * 1000;
}

let gateway = values.gateway;
let issuer = values.issuer ?? process.env.SHOP_ISSUER_URL;
if (!gateway || !issuer) {
  try {
    const stack = (await (
      await fetch(`${values.control}/stack`, { signal: AbortSignal.timeout(2_000) })
    ).json()) as { gateway: string; issuer: string };
    gateway ??= stack.gateway;
    issuer ??= stack.issuer;
  } catch {
    console.error(
      `shop:load: no running shop found at ${values.control} (start it with "npm run shop"), or pass --gateway and --issuer.`,
    );
    process.exit(1);
  }
}

const rps = Number(values.rps);
const duration = durationMs(values.duration);
const tty = process.stderr.isTTY;
console.error(
  `shop:load: ${rps} req/s for ${duration / 1000} s against ${gateway} (${Number(values.checkout) * 100}% checkouts)`,
);
let lastLine = 0;
const result: LoadResult = await runLoad({
  gatewayUrl: gateway as string,
  issuerUrl: issuer as string,
  rps,
  durationMs: duration,
  checkoutRatio: Number(values.checkout),
  users: Number(values.users),
  onProgress: (p) => {
    const width = 30;
    const share = Math.min(1, p.elapsedMs / p.durationMs);
    const bar = '#'.repeat(Math.round(share * width)).padEnd(width, '.');
    const line = `[${bar}] ${(p.elapsedMs / 1000).toFixed(1)}/${(p.durationMs / 1000).toFixed(0)} s  sent ${p.sent}  done ${p.done}  failed ${p.failed}  in flight ${p.inFlight}  p99 ${p.p99Ms.toFixed(0)} ms`;
    if (tty) process.stderr.write(`\r${line}\x1b[K`);
    else if (p.elapsedMs - lastLine >= 5_000) {
      lastLine = p.elapsedMs;
      console.error(line);
    }
  },
});
if (tty) process.stderr.write('\n');

if (values.json) console.log(JSON.stringify(result, null, 2));
else {
  const row = (name: string, s: LoadResult['all']) =>
    `${name.padEnd(9)} ${String(s.count).padStart(7)} ${String(s.failed).padStart(7)} ${s.p50Ms.toFixed(1).padStart(8)} ${s.p95Ms.toFixed(1).padStart(8)} ${s.p99Ms.toFixed(1).padStart(8)} ${s.maxMs.toFixed(1).padStart(8)}`;
  console.log(
    `\nthroughput ${result.throughputRps} req/s (target ${result.targetRps}), successful ${result.goodputRps} req/s, checkouts ${result.checkout.throughputRps}/s, resent after a connection error: ${result.retried}`,
  );
  console.log(
    `${'requests'.padEnd(9)} ${'count'.padStart(7)} ${'failed'.padStart(7)} ${'p50 ms'.padStart(8)} ${'p95 ms'.padStart(8)} ${'p99 ms'.padStart(8)} ${'max ms'.padStart(8)}`,
  );
  console.log(row('all', result.all));
  console.log(row('browse', result.browse));
  console.log(row('checkout', result.checkout));
  console.log(
    `by code: ${Object.entries(result.all.byCode)
      .map(([c, n]) => `${c} ${n}`)
      .join(', ')}`,
  );
  for (const f of result.failures.slice(0, 5))
    console.log(`  e.g. ${f.kind} ${f.code}: ${f.detail}`);
}
process.exit(result.all.failed > 0 ? 1 : 0);
