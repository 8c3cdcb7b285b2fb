import { startHttpServer } from '@ballast/test-utils';

/** An HTTP endpoint on 127.0.0.1 that never answers. */
export interface HangingEndpoint extends AsyncDisposable {
  /** The endpoint's URL (any path hangs). */
  readonly url: string;
  /** How many requests reached it. */
  readonly requests: number;
  /** Resolves when the `n`th request (default: the first) has reached the server. */
  arrived(n?: number): Promise<void>;
  close(): Promise<void>;
}

/**
 * Starts an endpoint that accepts requests and never answers, so a test can wait for a request to
 * really arrive (an I/O event, not a sleep) before it advances a ManualClock or aborts a signal.
 */
export async function hangingEndpoint(path = '/jwks'): Promise<HangingEndpoint> {
  let requests = 0;
  const waiters: { n: number; resolve: () => void }[] = [];
  const server = await startHttpServer(() => {
    requests++;
    for (const w of waiters.filter((w) => w.n <= requests)) {
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve();
    }
  });
  return {
    url: `${server.url}${path}`,
    get requests() {
      return requests;
    },
    arrived(n = 1) {
      if (requests >= n) return Promise.resolve();
      return new Promise<void>((resolve) => waiters.push({ n, resolve }));
    },
    close: () => server.close(),
    [Symbol.asyncDispose]: () => server.close(),
  };
}
