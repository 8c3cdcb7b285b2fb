import type { ServerResponse } from 'node:http';
import { optionError } from '../parse-options.ts';
import { sendJson } from './http.ts';
import type { TestIssuerEndpoint, TestIssuerFault } from './types.ts';

const HUGE_BYTES = 5 * 1024 * 1024;

/**
 * The faults the test issuer was told to show, per endpoint, for a number of requests or until
 * cleared, and how each one is shown. @internal
 */
export class FaultBoard {
  readonly #faults = new Map<TestIssuerEndpoint, { fault: TestIssuerFault; remaining: number }>();
  readonly #timers = new Set<NodeJS.Timeout>();

  /** Shows `fault` on `endpoint` for the next `times` requests (`null` clears it). */
  set(endpoint: TestIssuerEndpoint, fault: TestIssuerFault | null, times: number): void {
    if (fault === null) {
      this.#faults.delete(endpoint);
      return;
    }
    if (!(times > 0))
      throw optionError('TestIssuer.setFault()', 'times', times, 'must be a positive number');
    this.#faults.set(endpoint, { fault, remaining: times });
  }

  /** The fault for this request to `endpoint`, if any (counting it down). */
  take(endpoint: TestIssuerEndpoint): TestIssuerFault | undefined {
    const active = this.#faults.get(endpoint);
    if (active === undefined) return undefined;
    active.remaining--;
    if (active.remaining <= 0) this.#faults.delete(endpoint);
    return active.fault;
  }

  /** Answers per `fault`; true when the request was consumed, false to answer normally after it. */
  async apply(fault: TestIssuerFault, res: ServerResponse): Promise<boolean> {
    if (fault === 'slow' || typeof fault === 'object') {
      if (typeof fault === 'object' && 'status' in fault) {
        const body = fault.body ?? '';
        const text = typeof body === 'string' ? body : JSON.stringify(body);
        res.writeHead(fault.status, {
          'content-type': typeof body === 'string' ? 'text/plain' : 'application/json',
          ...fault.headers,
        });
        res.end(text);
        return true;
      }
      const delayMs = fault === 'slow' ? 1_000 : fault.delayMs;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          this.#timers.delete(timer);
          resolve();
        }, delayMs);
        timer.unref();
        this.#timers.add(timer);
      });
      return res.destroyed;
    }
    switch (fault) {
      case 'down':
        sendJson(res, 503, {
          error: 'temporarily_unavailable',
          error_description: 'the test issuer was told to be down',
        });
        return true;
      case 'reset':
        res.socket?.destroy();
        return true;
      case 'hang':
        return true;
      case 'garbage':
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('<html>not json{');
        return true;
      case 'huge': {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(`{"keys":[],"padding":"${'x'.repeat(HUGE_BYTES)}"}`);
        return true;
      }
    }
  }

  /** Ends the pending delays (on close). */
  clear(): void {
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
  }
}
