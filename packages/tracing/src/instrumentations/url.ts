/** The query parameters the semantic conventions name as credentials (signed URLs). */
const SENSITIVE_QUERY = /(^|&)(AWSAccessKeyId|Signature|sig|X-Goog-Signature)=[^&]*/g;

/** A query string (without `?`) as `url.query` should hold it: signed-URL credentials redacted. */
export function redactQuery(query: string): string {
  return query.replace(SENSITIVE_QUERY, '$1$2=REDACTED');
}

/** A path with its query (`/a?b=c`) as `url.full` should end: signed-URL credentials redacted. */
export function redactPath(path: string): string {
  const query = path.indexOf('?');
  return query === -1 ? path : path.slice(0, query + 1) + redactQuery(path.slice(query + 1));
}
