import { o } from '@ballast/kernel';
import { InvalidOptionsError } from '../errors.ts';
import { parse } from '../options.ts';
import type { Health, HealthReport } from './health.ts';
import { untraced } from './untraced.ts';

/** Options of `probes()` from every framework subpath; `R` is that framework's request. */
export interface ProbesOptions<R> {
  /** Path of the liveness probe, or `false` for none. Default `/livez`. */
  livePath?: string | false | undefined;
  /** Path of the readiness probe, or `false` for none. Default `/readyz`. */
  readyPath?: string | false | undefined;
  /** Path of the human-facing health page, or `false` for none. Default `/health`. */
  healthPath?: string | false | undefined;
  /**
   * Whether an answer includes each component (`components`: statuses, details, errors) or only
   * the aggregate `status`. `true`, `false`, or a predicate on the request (an admin token, an
   * internal address). Default `false`: details can name hosts, versions and errors.
   */
  showDetails?: boolean | ((request: R) => boolean | Promise<boolean>) | undefined;
}

/** Which probe a path is. */
export type ProbeKind = 'live' | 'ready' | 'health';

/** A framework-independent answer: the adapters copy it onto their response. */
export interface ProbeAnswer {
  readonly statusCode: number;
  readonly headers: Readonly<Record<string, string>>;
  /** `''` for `HEAD`. */
  readonly body: string;
}

/** What an adapter needs: which probe a request is, and its answer. */
export interface ProbeRoutes<R> {
  /** The probe at `path` for `method`, or `undefined` when the request is not a probe. */
  match(method: string | undefined, path: string): ProbeKind | undefined;
  /** Runs the probe and builds the answer. Never rejects. */
  answer(kind: ProbeKind, request: R, head: boolean): Promise<ProbeAnswer>;
}

const pathSchema = o.union(o.string({ minLength: 1 }), o.literal(false));
const schema = o.object({
  livePath: pathSchema.default('/livez'),
  readyPath: pathSchema.default('/readyz'),
  healthPath: pathSchema.default('/health'),
  showDetails: o.union(o.boolean(), o.fn<(request: never) => unknown>()).default(false),
});

const HEADERS = {
  'content-type': 'application/json; charset=utf-8',
  'cache-control': 'no-store',
} as const;

/** Builds the probe routes of `probes()` (validates the options). */
export function probeRoutes<R>(
  health: Health,
  options: ProbesOptions<R> | undefined,
  factory: string,
): ProbeRoutes<R> {
  if (
    typeof health !== 'object' ||
    health === null ||
    typeof (health as Health).ready !== 'function'
  ) {
    throw new InvalidOptionsError({
      option: 'health',
      received: health,
      message: `${factory}: the first argument must be a Health from createHealth().`,
    });
  }
  const opts = parse(schema, options ?? {}, factory);
  const paths = new Map<string, ProbeKind>();
  if (opts.livePath !== false) paths.set(opts.livePath, 'live');
  if (opts.readyPath !== false) paths.set(opts.readyPath, 'ready');
  if (opts.healthPath !== false) paths.set(opts.healthPath, 'health');
  const showDetails = opts.showDetails as ProbesOptions<R>['showDetails'];

  const details = async (request: R): Promise<boolean> => {
    if (typeof showDetails !== 'function') return showDetails === true;
    try {
      return (await showDetails(request)) === true;
    } catch {
      return false; // a throwing predicate hides details rather than failing the probe
    }
  };

  return {
    match(method, path) {
      if (method !== 'GET' && method !== 'HEAD') return undefined;
      return paths.get(path);
    },
    async answer(kind, request, head) {
      let report: HealthReport;
      try {
        report = await untraced(() =>
          kind === 'live' ? health.live() : kind === 'ready' ? health.ready() : health.check(),
        );
      } catch (error) {
        // A custom Health that throws: the probe still answers.
        return {
          statusCode: 503,
          headers: HEADERS,
          body: head ? '' : JSON.stringify({ status: 'DOWN', error: String(error) }),
        };
      }
      const body = (await details(request))
        ? { status: report.status, components: report.components }
        : { status: report.status };
      return {
        statusCode: report.httpStatus,
        headers: HEADERS,
        body: head ? '' : JSON.stringify(body),
      };
    },
  };
}
