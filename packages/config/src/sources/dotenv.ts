/**
 * Parses a `.env` file with dotenv's rules: `KEY=value` lines, optional `export `, `#` comments,
 * single quotes literal, double quotes with `\n` escapes and multi-line values, backticks, and
 * trimmed unquoted values whose inline comment starts at ` #`. Later duplicates win.
 */
export function parseDotenv(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const src = text.replace(/\r\n?/g, '\n');
  let i = 0;
  const n = src.length;
  while (i < n) {
    // start of a line: skip blank space
    while (i < n && (src[i] === ' ' || src[i] === '\t')) i++;
    if (i >= n) break;
    if (src[i] === '\n') {
      i++;
      continue;
    }
    if (src[i] === '#') {
      i = nextLine(src, i);
      continue;
    }
    if (src.startsWith('export ', i)) i += 7;
    while (i < n && (src[i] === ' ' || src[i] === '\t')) i++;
    const keyStart = i;
    while (i < n && /[\w.-]/.test(src[i] as string)) i++;
    const key = src.slice(keyStart, i);
    while (i < n && (src[i] === ' ' || src[i] === '\t')) i++;
    if (key === '' || (src[i] !== '=' && src[i] !== ':')) {
      i = nextLine(src, i);
      continue;
    }
    i++; // '=' or ':'
    while (i < n && (src[i] === ' ' || src[i] === '\t')) i++;
    const quote = src[i];
    if (quote === '"' || quote === "'" || quote === '`') {
      const end = src.indexOf(quote, i + 1);
      if (end !== -1) {
        let value = src.slice(i + 1, end);
        if (quote === '"') value = value.replace(/\\n/g, '\n').replace(/\\r/g, '\r');
        out[key] = value;
        i = nextLine(src, end + 1);
        continue;
      }
      // no closing quote: the rest of the line, as dotenv does
    }
    const lineEnd = src.indexOf('\n', i) === -1 ? n : src.indexOf('\n', i);
    let value = src.slice(i, lineEnd);
    const comment = value.search(/\s#/);
    if (comment !== -1) value = value.slice(0, comment);
    else if (value.startsWith('#')) value = '';
    out[key] = value.trim();
    i = lineEnd + 1;
  }
  return out;
}

function nextLine(src: string, from: number): number {
  const end = src.indexOf('\n', from);
  return end === -1 ? src.length : end + 1;
}
