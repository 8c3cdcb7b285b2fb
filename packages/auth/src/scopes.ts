/**
 * Scope lists already built, in a small table indexed by the claim string's length and ends: a
 * client's tokens repeat the same `scope` string, so a cache miss usually pays for one string
 * comparison instead of a split, a check and a freeze (hashing the string for a `Map` would cost
 * more than that). A colliding string replaces the slot. Lists are frozen, so sharing is safe.
 */
const BUILT_SLOTS = 64;
const builtText: (string | undefined)[] = new Array(BUILT_SLOTS).fill(undefined);
const builtList: (readonly string[])[] = new Array(BUILT_SLOTS).fill(Object.freeze([]));

/**
 * The scopes a token grants: the space-separated `scope` claim (RFC 8693 / RFC 9068), or the `scp`
 * array (or string) some issuers (Azure AD, Okta) use. Duplicates are removed.
 */
export function scopesOf(claims: Readonly<Record<string, unknown>>): readonly string[] {
  const { scope, scp } = claims;
  const text = typeof scope === 'string' ? scope : typeof scp === 'string' ? scp : undefined;
  if (text === undefined) {
    return toScopeList(
      Array.isArray(scp) ? scp.filter((s): s is string => typeof s === 'string') : [],
    );
  }
  const n = text.length;
  const slot =
    n === 0 ? 0 : (n * 31 + text.charCodeAt(0) * 7 + text.charCodeAt(n - 1)) & (BUILT_SLOTS - 1);
  if (builtText[slot] === text) return builtList[slot]!;
  const list = toScopeList(text.split(' '));
  builtText[slot] = text;
  builtList[slot] = list;
  return list;
}

function toScopeList(list: string[]): readonly string[] {
  // A short list with single spaces and no repeats (the usual case) is kept as it is; anything
  // else goes through a Set.
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
