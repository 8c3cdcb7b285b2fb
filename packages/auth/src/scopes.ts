/**
 * The scopes a token grants: the space-separated `scope` claim (RFC 8693 / RFC 9068), or the `scp`
 * array (or string) some issuers (Azure AD, Okta) use. Duplicates are removed.
 */
export function scopesOf(claims: Readonly<Record<string, unknown>>): readonly string[] {
  const { scope, scp } = claims;
  let list: string[] = [];
  if (typeof scope === 'string') list = scope.split(' ');
  else if (typeof scp === 'string') list = scp.split(' ');
  else if (Array.isArray(scp)) list = scp.filter((s): s is string => typeof s === 'string');
  // Every verified token pays for this: a short list with single spaces and no repeats (the
  // usual case) is kept as it is; anything else goes through a Set.
  const usual = list.length <= 32 && list.every((s, i) => s.length > 0 && list.indexOf(s) === i);
  return Object.freeze(usual ? list : [...new Set(list.filter((s) => s.length > 0))]);
}

/** How {@link hasScopes} combines several required scopes: every one, or at least one. */
export type ScopeMode = 'all' | 'any';

/** True when `granted` satisfies `required` (`all` by default; no required scope is satisfied). */
export function hasScopes(
  granted: readonly string[],
  required: readonly string[],
  mode: ScopeMode = 'all',
): boolean {
  if (required.length === 0) return true;
  return mode === 'all'
    ? required.every((s) => granted.includes(s))
    : required.some((s) => granted.includes(s));
}
