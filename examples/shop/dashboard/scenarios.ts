/**
 * The dashboard's "run scenario" buttons: runs one scenario of `scenarios/run.ts` at a time,
 * server-side, against the running stack, keeps its progress lines and the result row of each
 * scenario (what `npm run shop:scenarios` prints), and can stop it (the scenario then clears the
 * faults it set).
 */
import type { ScenarioCredentials } from './server.ts';

/** One row of the scenarios table (the shape of `ScenarioResult` in scenarios/run.ts). */
export interface ScenarioRow {
  id: number;
  scenario: string;
  fault: string;
  feature: string;
  expected: string;
  measured?: string | undefined;
  ok?: boolean | undefined;
  durationMs?: number | undefined;
  startedAt?: string | undefined;
}

interface RunModule {
  SCENARIO_LIST: readonly ScenarioRow[];
  runScenario(
    id: number,
    options: {
      controlUrl: string;
      credentials?: ScenarioCredentials | undefined;
      signal?: AbortSignal | undefined;
      log?: ((message: string) => void) | undefined;
    },
  ): Promise<ScenarioRow>;
}

/** The longest a scenario may run from the dashboard before it is stopped. */
const MAX_RUN_MS = 150_000;

// scenarios/run.ts belongs to the scenario runner; loaded on first use so the dashboard starts
// (and shows every other view) even in a checkout that does not have it.
const RUN_MODULE = '../scenarios/run.ts';
let loaded: Promise<RunModule | undefined> | undefined;
const runModule = () =>
  (loaded ??= (import(RUN_MODULE) as Promise<RunModule>).catch(() => undefined));

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
        const module = await runModule();
        try {
          const row = await module!.runScenario(id, {
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
