/**
 * `npm run shop:measure`: starts the stack as the scenario runner does (free ports, the same
 * sampling), and prints the memory of every process of the stack — at ready (the moment
 * `npm run shop:scenarios` records `stackRssMb`), and again after a short paced load — as RSS
 * (what issue 17's ≤ 1 GB is about), split into anonymous and file-backed pages, and as PSS. Then
 * it stops the stack. `SHOP_MEASURE_LOAD_S` sets the load's length (default 30; 0 skips it),
 * `SHOP_MEASURE_SAMPLING` the share of traces kept (default 0.1); `--json` prints the rows as JSON.
 */
import { readFileSync } from 'node:fs';
import { runLoad } from '../load/load.ts';
import { startStack } from './stack.ts';

interface Row {
  id: string;
  pid: number;
  rssMb: number;
  anonMb: number;
  fileMb: number;
  pssMb: number;
}

const kb = (text: string, field: string) => {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text);
  return match ? Number(match[1]) / 1024 : 0;
};

function rowOf(id: string, pid: number): Row {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  let pss = 0;
  try {
    pss = kb(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'), 'Pss');
  } catch {}
  return {
    id,
    pid,
    rssMb: kb(status, 'VmRSS'),
    anonMb: kb(status, 'RssAnon'),
    fileMb: kb(status, 'RssFile') + kb(status, 'RssShmem'),
    pssMb: pss,
  };
}

const json = process.argv.includes('--json');
const loadS = Number(process.env.SHOP_MEASURE_LOAD_S ?? 30);
const stack = await startStack({
  gatewayPort: 0,
  env: {
    OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
    OTEL_TRACES_SAMPLER_ARG: process.env.SHOP_MEASURE_SAMPLING ?? '0.1',
  },
  color: false,
  say: () => {},
  log: () => {},
});

function snapshot(): Row[] {
  const rows = [rowOf('launcher + receiver', process.pid)];
  for (const p of stack.processes()) if (p.pid) rows.push(rowOf(p.id, p.pid));
  return rows;
}

/** CPU seconds (user + system) the stack's processes have used so far; children that exited are not counted. */
function cpuSeconds(): number {
  const pids = [process.pid, ...stack.processes().map((p) => p.pid)];
  let ticks = 0;
  for (const pid of pids) {
    try {
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      ticks += Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15)
    } catch {}
  }
  return ticks / 100; // USER_HZ
}

function print(title: string, rows: Row[]) {
  if (json) {
    console.log(JSON.stringify({ title, rows }));
    return;
  }
  const f = (n: number) => n.toFixed(1).padStart(7);
  console.log(`\n${title}`);
  console.log(
    `${'process'.padEnd(20)}${'RSS'.padStart(7)}${'anon'.padStart(7)}${'file'.padStart(7)}${'PSS'.padStart(7)}`,
  );
  const sum = { rssMb: 0, anonMb: 0, fileMb: 0, pssMb: 0 };
  for (const r of rows) {
    console.log(`${r.id.padEnd(20)}${f(r.rssMb)}${f(r.anonMb)}${f(r.fileMb)}${f(r.pssMb)}`);
    sum.rssMb += r.rssMb;
    sum.anonMb += r.anonMb;
    sum.fileMb += r.fileMb;
    sum.pssMb += r.pssMb;
  }
  console.log(
    `${'total'.padEnd(20)}${f(sum.rssMb)}${f(sum.anonMb)}${f(sum.fileMb)}${f(sum.pssMb)}`,
  );
  console.log(`stackRssMb() ${stack.stackRssMb()}  stackPssMb() ${stack.stackPssMb()}`);
}

try {
  console.log(
    `ready in ${stack.readyS.toFixed(2)} s; CPU used until ready ${cpuSeconds().toFixed(1)} s (every process of the stack)`,
  );
  print('at ready', snapshot());
  if (loadS > 0) {
    const cpu0 = cpuSeconds();
    const result = await runLoad({
      gatewayUrl: stack.gatewayUrl,
      issuerUrl: stack.issuerUrl,
      shopperPassword: stack.secrets.shopperPassword,
      rps: 30,
      durationMs: loadS * 1000,
    });
    const cpu = cpuSeconds() - cpu0;
    console.log(
      `\nload: ${result.completed} requests, checkout p99 ${result.checkout.p99Ms} ms, failed ${result.all.failed}; CPU ${cpu.toFixed(1)} s (${((cpu / result.completed) * 1000).toFixed(1)} ms per request, all processes)`,
    );
    print(`after ${loadS} s of paced load (30 req/s)`, snapshot());
  }
} finally {
  await stack.stop();
}
