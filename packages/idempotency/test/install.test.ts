import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

// These run the built package (dist/, as `npm test` builds it first) in a child process, the way
// an installed copy runs.
const run = promisify(execFile);
const script = (name: string) => fileURLToPath(new URL(`./support/${name}`, import.meta.url));

async function load(mode: 'esm' | 'cjs', hide: string[]) {
  const { stdout } = await run(process.execPath, [script('load-dist.mjs')], {
    env: { ...process.env, MODE: mode, HIDE: hide.join(',') },
  });
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as { loaded: string[]; ok: boolean };
}

describe('as installed', () => {
  it.each(['esm', 'cjs'] as const)(
    'loads every entry point and works without @opentelemetry/api or ioredis (%s)',
    async (mode) => {
      const result = await load(mode, ['@opentelemetry/api', 'ioredis']);
      expect(result.ok).toBe(true);
    },
  );

  it.each(['esm', 'cjs'] as const)(
    'imports nothing heavy: no zod, ioredis, OpenTelemetry or node:crypto at import time (%s)',
    async (mode) => {
      const result = await load(mode, []);
      expect(result.ok).toBe(true);
      // node:crypto (slow to load) only on first use, node:module for lazy loading.
      expect(result.loaded).toEqual(['@ballast/kernel', 'node:module']);
    },
  );

  it('an awaited wait for an in-flight call keeps the process alive until the call runs', async () => {
    const { stdout } = await run(process.execPath, [script('wait-alive.mjs')]);
    expect(stdout.trim()).toBe('ran');
  });
});
