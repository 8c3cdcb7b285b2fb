import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';

const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

/** A fresh directory under the OS temp dir, removed after the test. */
export async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'ballast-config-'));
  dirs.push(dir);
  return dir;
}

/** Resolves with the next value `subscribe` hands over. */
export function next<T>(
  subscribe: (listener: (value: T) => void) => { dispose(): void },
): Promise<T> {
  return new Promise((resolve) => {
    const sub = subscribe((value) => {
      sub.dispose();
      resolve(value);
    });
  });
}
