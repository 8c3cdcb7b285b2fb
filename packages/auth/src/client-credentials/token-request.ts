import { TokenRequestError } from '../errors.ts';
import { ExchangeError, type ExchangeLimits, exchange } from '../http-exchange.ts';
import { ASSERTION_TYPE, AssertionSigner } from './assertion.ts';
import type { ResolvedClientCredentialsOptions } from './options.ts';
import { markTransient } from './retry.ts';
import { readTokenAnswer, type TokenAnswer } from './token-response.ts';

/** How the client authenticates: a secret (basic or post) or a signed assertion. @internal */
export type ClientAuthentication =
  | { readonly kind: 'client_secret_basic' | 'client_secret_post'; readonly secret: string }
  | { readonly kind: 'private_key_jwt'; readonly signer: AssertionSigner };

/** The form of a client-credentials token request, built once per source. @internal */
export function tokenForm(opts: ResolvedClientCredentialsOptions): URLSearchParams {
  const params = new URLSearchParams({ grant_type: 'client_credentials' });
  if (opts.scopes !== undefined && opts.scopes.length > 0)
    params.set('scope', opts.scopes.join(' '));
  if (opts.audience) params.set('audience', opts.audience);
  if (opts.resource) params.set('resource', opts.resource);
  for (const [name, value] of Object.entries(opts.extraParams)) params.set(name, value);
  return params;
}

/**
 * Sends one token request (RFC 6749 §4.4.2) to `endpoint` and reads its answer. A network
 * failure or timeout is a transient `TokenRequestError`; an abort rejects with the exchange's
 * `aborted` error. @internal
 */
export async function requestToken(
  endpoint: string,
  form: URLSearchParams,
  clientId: string,
  authentication: ClientAuthentication,
  limits: ExchangeLimits,
  now: () => number,
): Promise<TokenAnswer> {
  const params = new URLSearchParams(form);
  const headers: Record<string, string> = {
    'content-type': 'application/x-www-form-urlencoded',
    accept: 'application/json',
  };
  if (authentication.kind === 'private_key_jwt') {
    params.set('client_id', clientId);
    params.set('client_assertion_type', ASSERTION_TYPE);
    params.set('client_assertion', await authentication.signer.sign(endpoint));
  } else if (authentication.kind === 'client_secret_post') {
    params.set('client_id', clientId);
    params.set('client_secret', authentication.secret);
  } else {
    const pair = `${formEncode(clientId)}:${formEncode(authentication.secret)}`;
    headers.authorization = `Basic ${Buffer.from(pair).toString('base64')}`;
  }
  const sentAt = now();
  try {
    const answer = await exchange(
      endpoint,
      { method: 'POST', headers, body: params.toString() },
      limits,
    );
    return readTokenAnswer(answer, endpoint, sentAt);
  } catch (error) {
    throw error instanceof ExchangeError ? exchangeFailure(error, endpoint) : error;
  }
}

function exchangeFailure(error: ExchangeError, endpoint: string): Error {
  if (error.kind === 'aborted') return error;
  const failure =
    error.kind === 'timeout'
      ? 'timeout'
      : error.kind === 'too_large'
        ? 'invalid_response'
        : 'network';
  const out = new TokenRequestError(
    `clientCredentials: the token request to ${endpoint} failed (${error.message}); check that the issuer is reachable`,
    { failure, cause: error },
  );
  return failure === 'invalid_response' ? out : markTransient(out);
}

/** `application/x-www-form-urlencoded` encoding of a Basic credential part (RFC 6749 §2.3.1). */
function formEncode(value: string): string {
  return encodeURIComponent(value).replace(/%20/g, '+');
}

/** How the options say the client authenticates, built once per source. @internal */
export function clientAuthentication(opts: ResolvedClientCredentialsOptions): ClientAuthentication {
  if (!opts.privateKeyJwt) return { kind: opts.authMethod, secret: opts.clientSecret! };
  const signer = new AssertionSigner(opts.privateKeyJwt, opts.clientId, opts.issuer, opts.clock);
  return { kind: 'private_key_jwt', signer };
}
