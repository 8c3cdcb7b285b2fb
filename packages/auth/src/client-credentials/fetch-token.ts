import type { ExchangeLimits, FetchLike } from '../http-exchange.ts';
import { ATTR, type ClientInstruments, type Instruments } from '../telemetry.ts';
import { type CachedToken, cacheToken } from './cached-token.ts';
import { tokenEndpoint } from './endpoint.ts';
import { recordFailedFetch, recordFetch } from './fetch-telemetry.ts';
import type { ResolvedClientCredentialsOptions } from './options.ts';
import { AttemptsFailed, withRetries } from './retry.ts';
import { clientAuthentication, requestToken, tokenForm } from './token-request.ts';

/**
 * One token fetch of a source: the endpoint (discovered once), the request, its retries, its span
 * and its metrics. `settle` turns what a failed fetch threw into the error its callers get.
 * @internal
 */
export function tokenFetcher(
  opts: ResolvedClientCredentialsOptions,
  telemetry: Instruments<ClientInstruments>,
  settle: (thrown: unknown, signal: AbortSignal) => unknown,
): (signal: AbortSignal) => Promise<CachedToken> {
  const fetchImpl: FetchLike = opts.fetch ?? ((input, init) => fetch(input, init));
  const form = tokenForm(opts);
  const authentication = clientAuthentication(opts);
  const limits = (signal: AbortSignal): ExchangeLimits => ({
    fetch: fetchImpl,
    timeoutMs: opts.timeoutMs,
    maxBodyBytes: opts.maxBodyBytes,
    clock: opts.clock,
    signal,
  });
  const endpoint = tokenEndpoint(opts, limits);
  const now = () => opts.clock.now();

  async function requestOnce(signal: AbortSignal): Promise<CachedToken> {
    const url = await endpoint(signal);
    const answer = await requestToken(
      url,
      form,
      opts.clientId,
      authentication,
      limits(signal),
      now,
    );
    return cacheToken(answer.token, answer.lifetimeMs, answer.sentAt, opts);
  }

  return async (signal) => {
    const t = telemetry();
    const started = now();
    const span = t?.tracer.startSpan('ballast.auth.client_credentials', {
      attributes: { [ATTR.clientId]: opts.clientId },
    });
    try {
      const run = () =>
        withRetries(() => requestOnce(signal), {
          policy: opts.retry,
          clock: opts.clock,
          random: opts.random,
          signal,
          onRetry: (attempt, delayMs, error) =>
            span?.addEvent('retry', {
              [ATTR.attempts]: attempt,
              'ballast.auth.retry.delay_ms': delayMs,
              'ballast.auth.retry.reason': (error as Error).message,
            }),
        });
      const { value, attempts } = await (t !== undefined && span !== undefined
        ? t.api.context.with(t.api.trace.setSpan(t.api.context.active(), span), run)
        : run());
      span?.setAttributes({ [ATTR.attempts]: attempts, [ATTR.outcome]: 'success' });
      recordFetch(t, opts.clientId, 'success', now() - started);
      return value;
    } catch (thrown) {
      const error = settle(thrown, signal);
      const attempts = thrown instanceof AttemptsFailed ? thrown.attempts : undefined;
      recordFailedFetch(t, span, opts.clientId, { error, attempts, durationMs: now() - started });
      throw error;
    } finally {
      span?.end();
    }
  };
}
