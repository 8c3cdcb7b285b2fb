import { decodeJwt } from 'jose';
import { TokenRequestError } from '../errors.ts';
import type { ExchangeResult } from '../http-exchange.ts';
import { markTransient } from './retry.ts';

/** A usable bearer token answer: the token and how long it lives (0: do not cache). @internal */
export interface TokenAnswer {
  readonly token: string;
  readonly lifetimeMs: number;
  /** Clock ms when the request was sent: the lifetime counts from there. */
  readonly sentAt: number;
}

/**
 * Reads a token endpoint's answer (RFC 6749 §5): a 2xx JSON bearer token response, or an RFC 6749
 * §5.2 error body turned into a `TokenRequestError` whose message says what to check. A 5xx is
 * marked transient (retried); a 4xx is not. `sentAt` dates a JWT's `exp` when `expires_in` is
 * missing. @internal
 */
export function readTokenAnswer(
  answer: ExchangeResult,
  endpoint: string,
  sentAt: number,
): TokenAnswer {
  const body = jsonObject(answer.text);
  if (answer.status < 200 || answer.status > 299) throw oauthFailure(answer.status, body, endpoint);
  const invalid = (why: string): TokenRequestError =>
    new TokenRequestError(
      `clientCredentials: ${endpoint} answered HTTP ${answer.status} but ${why}; check the token endpoint URL`,
      { failure: 'invalid_response', status: answer.status },
    );
  if (!body) throw invalid('not with a JSON object');
  const { access_token: accessToken, token_type: tokenType, expires_in: expiresIn } = body;
  if (typeof accessToken !== 'string' || accessToken === '' || /\s/.test(accessToken)) {
    throw invalid('without a usable access_token');
  }
  if (typeof tokenType !== 'string' || tokenType.toLowerCase() !== 'bearer') {
    throw invalid(`with token_type ${JSON.stringify(tokenType)}, not Bearer`);
  }
  const seconds = Number(expiresIn);
  if (expiresIn !== undefined && !(Number.isFinite(seconds) && seconds > 0)) {
    throw invalid('with an expires_in that is not a positive number');
  }
  const lifetimeMs =
    expiresIn === undefined ? lifetimeFromJwt(accessToken, sentAt) : seconds * 1000;
  return { token: accessToken, lifetimeMs, sentAt };
}

/** The `TokenRequestError` of a non-2xx answer, from its RFC 6749 error body when it has one. */
function oauthFailure(
  status: number,
  body: Record<string, unknown> | undefined,
  endpoint: string,
): TokenRequestError {
  const text = (name: string) =>
    typeof body?.[name] === 'string' ? (body[name] as string) : undefined;
  const error = text('error');
  const description = text('error_description');
  const failure = new TokenRequestError(
    error
      ? `clientCredentials: ${endpoint} refused the token request with ${error}${description ? ` (${description})` : ''} [HTTP ${status}]; ${hint(error)}`
      : `clientCredentials: ${endpoint} answered HTTP ${status} without an OAuth error body; check the token endpoint URL`,
    {
      failure: error ? 'oauth_error' : 'http_status',
      status,
      error,
      errorDescription: description,
      errorUri: text('error_uri'),
    },
  );
  return status >= 500 ? markTransient(failure) : failure;
}

function jsonObject(text: string): Record<string, unknown> | undefined {
  try {
    const parsed: unknown = JSON.parse(text);
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)
      ? (parsed as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/** Without `expires_in`, the lifetime a JWT access token states in `exp` (0 when it is opaque). */
function lifetimeFromJwt(token: string, now: number): number {
  try {
    const { exp } = decodeJwt(token);
    return typeof exp === 'number' ? Math.max(0, exp * 1000 - now) : 0;
  } catch {
    return 0;
  }
}

/** What to check for an RFC 6749 error code. */
function hint(error: string): string {
  switch (error) {
    case 'invalid_client':
      return 'check clientId and clientSecret (or the private key) and the auth method the server expects';
    case 'invalid_scope':
      return 'ask only for scopes the client is registered for';
    case 'unauthorized_client':
      return 'allow the client_credentials grant for this client at the server';
    case 'invalid_target':
      return 'ask for an audience/resource the client may use';
    default:
      return 'see error_description';
  }
}
