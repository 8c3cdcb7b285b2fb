import type { IncomingMessage, Server, ServerResponse } from 'node:http';

/** The part of a `node:http`/`node:https` server the shutdown uses. */
export type DrainableServer = Pick<
  Server,
  'on' | 'off' | 'close' | 'closeIdleConnections' | 'closeAllConnections' | 'listening'
>;

/**
 * Follows one server's requests so that the shutdown can drain it: counts those in flight, and
 * once `closeConnections()` was called answers every response whose headers are not out yet with
 * `Connection: close`, so each keep-alive socket ends after its current response instead of being
 * cut under a request the client is sending.
 */
export class ServerDrain {
  readonly server: DrainableServer;
  readonly #inFlight = new Set<ServerResponse>();
  readonly #idle = new Set<() => void>();
  #closingConnections = false;
  #stoppedAccepting = false;
  #closed: Promise<void> | undefined;

  constructor(server: DrainableServer) {
    this.server = server;
    server.on('request', this.#onRequest);
  }

  get inFlight(): number {
    return this.#inFlight.size;
  }

  readonly #onRequest = (_req: IncomingMessage, res: ServerResponse): void => {
    if (this.#closingConnections) closeAfter(res);
    this.#inFlight.add(res);
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      this.#inFlight.delete(res);
      if (this.#stoppedAccepting) {
        // Its socket may now be idle (its headers went out before Connection: close was set):
        // close it. Not before the listener closed: until then clients may still pick this
        // instance, and closing an idle keep-alive socket races with a request sent on it.
        setImmediate(() => this.server.closeIdleConnections?.());
      }
      if (this.#inFlight.size === 0) for (const wake of this.#idle) wake();
    };
    res.once('finish', finish);
    res.once('close', finish);
  };

  /** From now on every response ends its keep-alive socket (`Connection: close`). */
  closeConnections(): void {
    this.#closingConnections = true;
    for (const res of this.#inFlight) closeAfter(res);
  }

  /** Stops accepting connections and closes the idle keep-alive ones. */
  stopAccepting(): Promise<void> {
    this.closeConnections();
    this.#stoppedAccepting = true;
    this.#closed ??= new Promise<void>((resolve) => {
      if (!this.server.listening) {
        resolve();
        return;
      }
      this.server.close(() => resolve());
    });
    this.server.closeIdleConnections?.();
    return Promise.resolve();
  }

  /** Resolves when no request is in flight. */
  idle(): Promise<void> {
    if (this.#inFlight.size === 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const wake = (): void => {
        this.#idle.delete(wake);
        resolve();
      };
      this.#idle.add(wake);
    });
  }

  /** Cuts every connection still open (after the drain deadline) and waits for the server's close. */
  async forceClose(): Promise<void> {
    this.server.closeAllConnections?.();
    await this.#closed;
  }

  /** Resolves when the server has closed (every connection ended). */
  closed(): Promise<void> {
    return this.#closed ?? Promise.resolve();
  }

  dispose(): void {
    this.server.off('request', this.#onRequest);
  }
}

function closeAfter(res: ServerResponse): void {
  if (res.headersSent) return;
  res.shouldKeepAlive = false;
  if (!res.hasHeader('connection')) res.setHeader('connection', 'close');
}
