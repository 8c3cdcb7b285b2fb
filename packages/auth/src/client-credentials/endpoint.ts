import { discoverTokenEndpoint, isUnreachableIssuer } from '../discovery.ts';
import type { ExchangeLimits } from '../http-exchange.ts';
import type { ResolvedClientCredentialsOptions } from './options.ts';
import { markTransient } from './retry.ts';

/**
 * The token endpoint: the configured one, or the issuer's, discovered on first need through the
 * package's one discovery loop and kept. An unreachable issuer is transient (the retry loop tries
 * again); a bad metadata document is not. @internal
 */
export function tokenEndpoint(
  opts: ResolvedClientCredentialsOptions,
  limits: (signal: AbortSignal) => ExchangeLimits,
): (signal: AbortSignal) => Promise<string> {
  let known = opts.tokenEndpoint;
  return async (signal) => {
    if (known !== undefined) return known;
    try {
      known = await discoverTokenEndpoint(opts.issuer!, {
        ...limits(signal),
        allowInsecureHttp: opts.allowInsecureHttp,
      });
    } catch (error) {
      throw isUnreachableIssuer(error) ? markTransient(error as Error) : error;
    }
    return known;
  };
}
