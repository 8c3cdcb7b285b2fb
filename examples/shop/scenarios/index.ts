/**
 * `npm run shop:scenarios`: starts the stack, measures a healthy baseline, runs the ten scenarios
 * one after the other under paced load, prints the table, writes bench/results/shop.json and
 * exits non-zero when any scenario failed. `SHOP_SCENARIOS=1,3` runs a subset (shop.json is then
 * not written). Service logs go to a file (its path is printed).
 */
import { createWriteStream, mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { runLoad } from '../load/load.ts';
import { SHOP_DIR, startStack } from '../stack/stack.ts';
import { createContext } from './context.ts';
import { localHandle } from './handle.ts';
import { type Outcome, SCENARIOS, type Shared } from './scenarios.ts';

const started = Date.now();
const loadAtStart = Math.round(loadavg()[0]! * 10) / 10;
const budgetMs = Number(process.env.SHOP_SCENARIOS_BUDGET_MS ?? 9 * 60_000);
const only = process.env.SHOP_SCENARIOS?.split(',').map(Number).filter(Boolean);
/** Extra tries of a failed latency scenario (2, 3): `SHOP_SCENARIO_RETRIES`, default 1. */
const retries = Number(process.env.SHOP_SCENARIO_RETRIES ?? 1);
const logPath = join(tmpdir(), `shop-scenarios-${process.pid}.log`);
const logFile = createWriteStream(logPath);
const say = (m: string) => console.log(`scenarios: ${m}`);

const watchdog = setTimeout(() => {
  console.error(
    `scenarios: over the ${budgetMs / 1000} s budget; stopping (service logs: ${logPath})`,
  );
  process.exit(2);
}, budgetMs);
watchdog.unref();

// Ctrl-C or SIGTERM (a cancelled CI job): stop the stack gracefully instead of leaving its
// processes and Redis running — the default action of these signals skips every exit handler.
let stack: Awaited<ReturnType<typeof startStack>> | undefined;
const starting = new AbortController();
const onSignal = (signal: NodeJS.Signals) => {
  say(`${signal}: stopping the stack`);
  if (stack === undefined) starting.abort();
  else void stack.stop().finally(() => process.exit(130));
};
process.once('SIGINT', onSignal);
process.once('SIGTERM', onSignal);

say(`starting the stack (service logs: ${logPath})`);
try {
  stack = await startStack({
    signal: starting.signal,
    gatewayPort: Number(process.env.SHOP_PORT ?? 0),
    // one trace in ten (a request that arrives sampled, as scenario 10's, is always traced): the
    // load generator and the receiver share this process, and span export competes with the
    // services for the same two cores
    env: {
      OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
      OTEL_TRACES_SAMPLER_ARG: process.env.SHOP_SCENARIO_SAMPLING ?? '0.1',
    },
    color: false,
    say: (m) => say(m),
    log: (line, instance) =>
      logFile.write(`${new Date().toISOString()} ${instance.id.padEnd(16)}| ${line}\n`),
  });
} catch (error) {
  if (starting.signal.aborted) process.exit(130);
  console.error(`scenarios: the stack did not start: ${(error as Error).message}`);
  console.error(`scenarios: service logs: ${logPath}`);
  process.exit(1);
}
let exitCode = 1;
const outcomes: Outcome[] = [];
const results: Record<string, number | string> = {};
try {
  const rss = stack.stackRssMb();
  const pss = stack.stackPssMb();
  say(
    `ready in ${stack.readyS.toFixed(1)} s, memory ${pss} MB PSS, RSS sum ${rss} MB (${stack.supervisor.running().length} service processes + redis + launcher)`,
  );
  const ctx = await createContext(localHandle(stack), say);

  // warm-up: one checkout at a time until ten in a row succeed. Freshly started services are slow
  // (nothing is compiled yet; on a loaded machine a first call can outlast its timeout) and a
  // burst at that moment opens breakers — a fault no scenario asked for.
  const warmStart = Date.now();
  let inARow = 0;
  let warmTries = 0;
  while (inARow < 10 && Date.now() - warmStart < 120_000) {
    warmTries++;
    const res = await ctx.checkout(ctx.shoppers[warmTries % ctx.shoppers.length]!, {
      sku: ctx.skus[warmTries % ctx.skus.length],
    });
    if (res.status === 201) inARow++;
    else {
      inARow = 0;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  say(
    `warm-up: ${warmTries} sequential checkouts, ${((Date.now() - warmStart) / 1000).toFixed(1)} s until ten in a row succeeded`,
  );
  // healthy baseline: paced checkouts (what the latency scenarios compare with) and capacity
  const warm = await runLoad({
    gatewayUrl: stack.gatewayUrl,
    issuerUrl: stack.issuerUrl,
    shopperPassword: stack.secrets.shopperPassword,
    rps: 10,
    durationMs: 2_000,
    checkoutRatio: 1,
    users: 5,
  });
  const paced = await runLoad({
    gatewayUrl: stack.gatewayUrl,
    issuerUrl: stack.issuerUrl,
    shopperPassword: stack.secrets.shopperPassword,
    rps: Number(process.env.SHOP_SCENARIO_RPS ?? 15),
    durationMs: 6_000,
    checkoutRatio: 1,
    users: 10,
  });

  say(
    `baseline: paced ${paced.targetRps}/s checkouts p50 ${paced.checkout.p50Ms} ms p99 ${paced.checkout.p99Ms} ms (${paced.checkout.failed} failed; warm-up ${warm.checkout.failed} failed)`,
  );
  const shared: Shared = {};
  for (const scenario of SCENARIOS) {
    if (only?.length && !only.includes(scenario.id)) continue;
    const t = Date.now();
    say(`${scenario.id}. ${scenario.scenario} …`);
    const attempt = async (): Promise<Outcome> => {
      try {
        return { ...scenario, ...(await scenario.run(ctx, shared)) };
      } catch (error) {
        return { ...scenario, measured: `error: ${(error as Error).message}`, ok: false };
      }
    };
    let outcome = await attempt();
    // A latency comparison (a p99 of a few hundred requests) fails now and then on a machine
    // that stalls as long as the fault it measures: such a scenario gets one more try, and the
    // table says so with the first try's numbers. Anything else fails at once.
    if (!outcome.ok && scenario.timing && retries > 0) {
      say(`${scenario.id}. failed (${outcome.measured}); once more, it compares latencies`);
      const first = outcome;
      outcome = await attempt();
      outcome = {
        ...outcome,
        measured: `${outcome.measured} [second try; first: ${first.measured}]`,
      };
    }
    outcomes.push(outcome);
    say(
      `${scenario.id}. ${outcome.ok ? 'ok' : 'FAILED'} in ${((Date.now() - t) / 1000).toFixed(1)} s: ${outcome.measured}`,
    );
  }
  // checkout throughput: last, because an offered rate above capacity trips breakers
  // (the scenarios above must not inherit that)
  const capacity = await runLoad({
    gatewayUrl: stack.gatewayUrl,
    issuerUrl: stack.issuerUrl,
    shopperPassword: stack.secrets.shopperPassword,
    rps: Number(process.env.SHOP_CAPACITY_RPS ?? 60),
    durationMs: 5_000,
    checkoutRatio: 1,
    users: 10,
  });
  say(
    `throughput: offered ${capacity.targetRps}/s checkouts -> ${capacity.checkout.throughputRps} ok/s, p99 ${capacity.checkout.p99Ms} ms`,
  );
  await ctx.ops.close();
  await ctx.client.close();

  // the table
  const cols = ['#', 'scenario', 'fault', 'feature', 'expected', 'measured', 'ok'] as const;
  const rows = outcomes.map((o) => [
    String(o.id),
    o.scenario,
    o.fault,
    o.feature,
    o.expected,
    o.measured,
    o.ok ? 'ok' : 'FAIL',
  ]);
  console.log('');
  console.log(`| ${cols.join(' | ')} |`);
  console.log(`| ${cols.map(() => '---').join(' | ')} |`);
  for (const row of rows) console.log(`| ${row.join(' | ')} |`);
  console.log('');
  const failed = outcomes.filter((o) => !o.ok);
  const byId = new Map(outcomes.map((o) => [o.id, o]));
  Object.assign(results, {
    stackRssMb: rss,
    stackPssMb: pss,
    timeToReadyS: Math.round(stack.readyS * 100) / 100,
    checkoutThroughputRps: capacity.checkout.throughputRps,
    checkoutP99HealthyMs: byId.get(3)?.metrics?.healthyP99Ms ?? paced.checkout.p99Ms,
    checkoutP99SlowInventoryMs: byId.get(3)?.metrics?.slowP99Ms ?? 'not run',
    rollingRestartFailedRequests: byId.get(5)?.metrics?.failed ?? 'not run',
  });
  if (!only?.length) {
    const out = join(SHOP_DIR, '..', '..', 'bench', 'results');
    mkdirSync(out, { recursive: true });
    writeFileSync(
      join(out, 'shop.json'),
      `${JSON.stringify(
        {
          command: 'npm run shop:scenarios',
          node: process.version,
          date: new Date().toISOString(),
          machine: {
            cpus: cpus().length,
            loadAverageAtStart: loadAtStart,
            loadAverageAtEnd: Math.round(loadavg()[0]! * 10) / 10,
            runSeconds: Math.round((Date.now() - started) / 1000),
            note: 'absolute latencies depend on what else the machine runs; compare values measured in the same run',
          },
          results: {
            ...results,
            baselinePacedCheckoutRps: paced.targetRps,
            baselinePacedCheckoutP99Ms: paced.checkout.p99Ms,
            capacityOfferedRps: capacity.targetRps,
            capacityCheckoutP99Ms: capacity.checkout.p99Ms,
          },
          scenarios: outcomes.map(({ id, scenario, expected, measured, ok, metrics }) => ({
            id,
            scenario,
            expected,
            measured,
            ok,
            metrics,
          })),
        },
        null,
        2,
      )}\n`,
    );
    say('wrote bench/results/shop.json');
  }
  say(
    `stack RSS ${results.stackRssMb} MB, ready in ${results.timeToReadyS} s, checkout throughput ${results.checkoutThroughputRps} req/s, p99 healthy ${results.checkoutP99HealthyMs} ms / slow inventory ${results.checkoutP99SlowInventoryMs} ms, rolling restart failed ${results.rollingRestartFailedRequests}`,
  );
  say(
    `${outcomes.length - failed.length}/${outcomes.length} scenarios passed in ${((Date.now() - started) / 1000).toFixed(0)} s${failed.length ? ` — FAILED: ${failed.map((f) => f.id).join(', ')} (service logs: ${logPath})` : ''}`,
  );
  exitCode = failed.length === 0 && outcomes.length > 0 ? 0 : 1;
} catch (error) {
  console.error(`scenarios: ${(error as Error).stack ?? error}`);
  console.error(`scenarios: service logs: ${logPath}`);
} finally {
  await stack.stop();
  logFile.end();
}
process.exit(exitCode);
