/**
 * The dashboard's "run scenario" buttons: runs one scenario of `scenarios/run.ts` at a time,
 * server-side, against the running stack, keeps its progress lines and the result row of each
 * scenario (what `npm run shop:scenarios` prints), and can stop it (the scenario then clears the
 * faults it set).
 */
import type { ScenarioResult } from '../scenarios/run.ts';
import type { ScenarioCredentials } from './server.ts';

/** One row of the scenarios table, as the page shows it. */
export type ScenarioRow = Pick<
  ScenarioResult,
  'id' | 'scenario' | 'fault' | 'feature' | 'expected'
> &
  Partial<Pick<ScenarioResult, 'measured' | 'ok' | 'durationMs' | 'startedAt'>>;

/** The longest a scenario may run from the dashboard before it is stopped. */
const MAX_RUN_MS = 150_000;

// Imported once the dashboard runs: the page's other views never wait for the scenario runner,
// and work even if it cannot be loaded.
let loaded: Promise<typeof import('../scenarios/run.ts') | undefined> | undefined;
const runModule = () => (loaded ??= import('../scenarios/run.ts').catch(() => undefined));

export function scenarioRunner(options: {
  controlUrl: string;
  credentials?: ScenarioCredentials | undefined;
  onChange: () => void;
}) {
  let list: readonly ScenarioRow[] = [];
  const results = new Map<number, ScenarioRow>();
  let running:
    | { id: number; startedAt: number; log: string[]; controller: AbortController }
    | undefined;
  void runModule().then((module) => {
    list = module?.SCENARIO_LIST ?? [];
    options.onChange();
  });

  return {
    state() {
      return {
        available: list.length > 0,
        list: list.map((row) => ({
          id: row.id,
          scenario: row.scenario,
          fault: row.fault,
          feature: row.feature,
          expected: row.expected,
        })),
        running: running && {
          id: running.id,
          seconds: Math.round((Date.now() - running.startedAt) / 1000),
          log: running.log.slice(-8),
        },
        results: Object.fromEntries(results),
      };
    },
    /** Starts scenario `id` unless one is running: 202, 409 (busy) or 404 (unknown id). */
    start(id: number): { status: number; body: unknown } {
      if (running)
        return {
          status: 409,
          body: { error: 'BUSY', message: `scenario ${running.id} is running; one at a time` },
        };
      if (!list.some((row) => row.id === id))
        return { status: 404, body: { error: 'NOT_FOUND', message: `no scenario ${id}` } };
      const controller = new AbortController();
      const current = { id, startedAt: Date.now(), log: [] as string[], controller };
      running = current;
      const timeout = setTimeout(() => controller.abort(new Error('took too long')), MAX_RUN_MS);
      void (async () => {
        try {
          const module = await runModule();
          if (!module) throw new Error('scenarios/run.ts could not be loaded');
          const row = await module.runScenario(id, {
            controlUrl: options.controlUrl,
            credentials: options.credentials,
            signal: controller.signal,
            log: (line) => {
              current.log.push(line);
              if (current.log.length > 50) current.log.shift();
              options.onChange();
            },
          });
          results.set(id, row);
        } catch (error) {
          const known = list.find((row) => row.id === id)!;
          results.set(id, {
            ...known,
            ok: false,
            measured: `could not run: ${(error as Error).message}`,
          });
        } finally {
          clearTimeout(timeout);
          running = undefined;
          options.onChange();
        }
      })();
      options.onChange();
      return { status: 202, body: { started: id } };
    },
    stop() {
      running?.controller.abort(new Error('stopped from the dashboard'));
    },
  };
}
