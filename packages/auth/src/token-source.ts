/** Options of one {@link TokenSource.getToken} call. */
export interface GetTokenOptions {
  /** Stops waiting for the token (a shared fetch keeps going while other callers wait for it). */
  readonly signal?: AbortSignal | undefined;
}

/**
 * Something that hands out access tokens for outgoing requests, such as
 * `clientCredentials(...)`. Implement it yourself to plug any token provider into
 * `bearerInterceptor`.
 */
export interface TokenSource {
  /** Resolves to a valid access token (cached, or fetched when needed). */
  getToken(options?: GetTokenOptions): Promise<string>;
  /**
   * Drops the cached token so the next `getToken` fetches a new one. With `token`, drops it only
   * if it is still the cached one, so many callers that saw the same rejected token cause one
   * refresh, not many.
   */
  invalidate(token?: string): void;
}
