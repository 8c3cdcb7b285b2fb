/**
 * Runs one scenario against a stack that is already running (`npm run shop`), reached through its
 * control API — what the dashboard's "run scenario" button calls:
 *
 *   const row = await runScenario(3, { controlUrl: 'http://127.0.0.1:8079' });
 *   // { id: 3, scenario: 'one slow inventory instance', …, measured: 'p99 healthy …', ok: true }
 *
 * The result is one row of the table `npm run shop:scenarios` prints. A failed scenario resolves
 * with `ok: false` (its `measured` says why); only an unknown id or an unreachable control API
 * rejects. One scenario at a time per stack: the faults of one would spoil another's measurement.
 */
import { createContext } from './context.ts';
import { type Credentials, remoteHandle } from './handle.ts';
import { type Outcome, SCENARIOS } from './scenarios.ts';

/** What each scenario is (for buttons and a table header), without running it. */
export const SCENARIO_LIST: ReadonlyArray<
  Pick<Outcome, 'id' | 'scenario' | 'fault' | 'feature' | 'expected'>
> = SCENARIOS.map(({ id, scenario, fault, feature, expected }) => ({
  id,
  scenario,
  fault,
  feature,
  expected,
}));

/** One row of the scenarios table, with when it ran and how long it took. */
export interface ScenarioResult extends Outcome {
  durationMs: number;
  /** ISO time the scenario started. */
  startedAt: string;
}

export interface RunScenarioOptions {
  /** The launcher's control API, e.g. `http://127.0.0.1:8079` (everything else is read from `GET /stack`). */
  controlUrl: string;
  /** The gateway; default the control API's `GET /stack` → `gateway`. */
  gatewayUrl?: string | undefined;
  /**
   * Secrets some scenarios need: the shoppers' password (default SHOP_SHOPPER_PASSWORD, else
   * `shopper`), the admin's password and TOTP secret (scenario 6), the `shop-ops` client
   * (diagnostic GETs: scenarios 1, 2, 7, 8, 9). Default: `GET /stack` → `credentials`, when the
   * launcher exposes them. A scenario without what it needs fails with `measured: 'needs …'`.
   */
  credentials?: Partial<Credentials> | undefined;
  /** Paced checkouts per second of the latency scenarios (default SHOP_SCENARIO_RPS, else 15). */
  rps?: number | undefined;
  /** Stops the scenario's load early; the scenario still clears the faults it set. */
  signal?: AbortSignal | undefined;
  /** Progress messages. */
  log?: ((message: string) => void) | undefined;
}

const busy = new Set<string>();

/** Runs scenario `id` (1–10) against the running stack behind `options.controlUrl`. */
export async function runScenario(
  id: number,
  options: RunScenarioOptions,
): Promise<ScenarioResult> {
  const scenario = SCENARIOS.find((s) => s.id === id);
  if (!scenario) throw new Error(`unknown scenario ${id}: 1 to ${SCENARIOS.length}`);
  const key = options.controlUrl.replace(/\/$/, '');
  if (busy.has(key)) throw new Error('a scenario is already running against this stack');
  busy.add(key);
  const startedAt = Date.now();
  const log = options.log ?? (() => {});
  const stack = await remoteHandle(options).catch((error: unknown) => {
    busy.delete(key);
    throw error;
  });
  try {
    const ctx = await createContext(stack, log, options.signal, options.rps);
    let outcome: Outcome;
    try {
      outcome = { ...scenario, ...(await scenario.run(ctx, {})) };
    } catch (error) {
      outcome = { ...scenario, measured: `error: ${(error as Error).message}`, ok: false };
    } finally {
      await ctx.ops.close();
      await ctx.client.close();
    }
    const { run: _run, ...row } = outcome as Outcome & { run?: unknown };
    return {
      ...row,
      durationMs: Date.now() - startedAt,
      startedAt: new Date(startedAt).toISOString(),
    };
  } finally {
    await stack.close();
    busy.delete(key);
  }
}
