/** A token the source holds, and when to refresh it. @internal */
export interface CachedToken {
  readonly token: string;
  /** Clock ms after which the token is no longer handed out. */
  readonly expiresAt: number;
  /** Clock ms from which `getToken` starts a background refresh (and still returns this token). */
  refreshAt: number;
}

/** How far ahead of expiry a token is refreshed. @internal */
export interface RefreshPolicy {
  readonly refreshAheadMs: number;
  /** Extra fraction (0–1) of the lead, drawn at random, so instances spread out. */
  readonly jitter: number;
  readonly random: () => number;
}

/**
 * The cache entry for a token that lives `lifetimeMs` from `sentAt` (when its request was sent, so
 * the network time is counted against the token): refreshed `refreshAheadMs` before expiry, but
 * never earlier than half its life, plus jitter. @internal
 */
export function cacheToken(
  token: string,
  lifetimeMs: number,
  sentAt: number,
  policy: RefreshPolicy,
): CachedToken {
  const expiresAt = sentAt + lifetimeMs;
  const ahead = Math.min(policy.refreshAheadMs, lifetimeMs / 2);
  const refreshAt = Math.max(sentAt, expiresAt - ahead - ahead * policy.jitter * policy.random());
  return { token, expiresAt, refreshAt };
}

/** After a failed background refresh: keep the token, try again after half its remaining life. @internal */
export function postponeRefresh(cached: CachedToken, now: number): void {
  cached.refreshAt = now + Math.max(0, (cached.expiresAt - now) / 2);
}
