import { createHash } from 'node:crypto';
import { isPlainObject, type Values } from '../values.ts';

/** A short content hash: a file's version label. */
export function contentHash(text: string | Buffer): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 12);
}

/** The format a path's extension implies. */
export function formatOf(path: string): 'json' | 'yaml' | undefined {
  const lower = path.toLowerCase();
  if (lower.endsWith('.json')) return 'json';
  if (lower.endsWith('.yaml') || lower.endsWith('.yml')) return 'yaml';
  return undefined;
}

let yamlModule: typeof import('yaml') | undefined;

/** Parses a JSON or YAML document whose top level must be an object; `where` names it in errors. */
export async function parseDocument(
  text: string,
  format: 'json' | 'yaml',
  where: string,
): Promise<Values> {
  if (text.trim() === '') return {};
  let value: unknown;
  try {
    if (format === 'json') value = JSON.parse(text);
    else {
      yamlModule ??= await import('yaml'); // loaded by the first YAML document, then kept
      value = yamlModule.parse(text, { prettyErrors: true });
    }
  } catch (error) {
    const reason = error instanceof Error ? error.message.split('\n')[0] : String(error);
    throw new Error(`${where} is not valid ${format === 'json' ? 'JSON' : 'YAML'}: ${reason}`, {
      cause: error,
    });
  }
  if (value === null || value === undefined) return {};
  if (!isPlainObject(value))
    throw new Error(
      `${where} must hold an object at the top level (key: value pairs), not ${Array.isArray(value) ? 'a list' : typeof value}`,
    );
  return value;
}
