import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { PROBLEM_TYPE_BASE, PROBLEMS, problemResponse } from '../src/problem.ts';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

/** The anchors GitHub gives the README's headings (lower case, punctuation dropped, spaces to -). */
function anchors(markdown: string): Set<string> {
  const found = new Set<string>();
  const withoutCode = markdown.replace(/```[\s\S]*?```/g, '');
  for (const [, heading] of withoutCode.matchAll(/^#{1,6} (.+)$/gm)) {
    found.add(
      heading!
        .trim()
        .toLowerCase()
        .replace(/[^\p{L}\p{N}\s_-]/gu, '')
        .replace(/\s/g, '-'),
    );
  }
  return found;
}

describe('README', () => {
  it('has the heading every problem type URL points at', () => {
    const headings = anchors(readme);
    for (const code of Object.keys(PROBLEMS) as (keyof typeof PROBLEMS)[]) {
      const body = JSON.parse(Buffer.from(problemResponse(code, 'x').body).toString()) as {
        type: string;
      };
      expect(body.type.startsWith(PROBLEM_TYPE_BASE)).toBe(true);
      expect(headings, `#${body.type.slice(PROBLEM_TYPE_BASE.length)}`).toContain(
        body.type.slice(PROBLEM_TYPE_BASE.length),
      );
    }
  });

  it('scopes by what @ballast/auth verified (authOf(req)?.subject), never by a client-chosen header', () => {
    const code = [...readme.matchAll(/```ts[^\n]*\n([\s\S]*?)```/g)].map((m) => m[1]).join('\n');
    const scopes = [...code.matchAll(/scope: \([^)]*\) =>[^\n]*/g)].map((m) => m[0]);
    expect(scopes.length).toBeGreaterThan(0);
    for (const scope of scopes) {
      expect(scope).not.toMatch(/auth\?\.sub\b/);
      expect(scope).not.toMatch(/\.get\(|headers\[|headers\.get/);
    }
    expect(code).toContain('scope: (req) => authOf(req)?.subject');
  });
});
