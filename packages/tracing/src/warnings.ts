import { createRequire } from 'node:module';

/** Emits a process warning of type `BallastTracingWarning` (printed on stderr unless silenced). */
export function warn(message: string, code: string): void {
  process.emitWarning(message, { type: 'BallastTracingWarning', code });
}

function requireCache(): Record<string, unknown> {
  try {
    const require = createRequire(typeof __filename === 'string' ? __filename : import.meta.url);
    return require.cache;
  } catch {
    return {};
  }
}

/** The packages among `names` that are already in the CommonJS module cache (ESM imports of them included). */
export function loadedPackages(names: readonly string[]): string[] {
  const found = new Set<string>();
  for (const file of Object.keys(requireCache())) {
    for (const name of names) {
      if (!found.has(name) && file.includes(`/node_modules/${name}/`)) found.add(name);
    }
  }
  return [...found];
}

/** Directories of every `@opentelemetry/api` copy loaded through `require` (ESM imports of it included). */
export function apiCopies(): string[] {
  const dirs = new Set<string>();
  const marker = '/node_modules/@opentelemetry/api/';
  for (const file of Object.keys(requireCache())) {
    const at = file.lastIndexOf(marker);
    if (at !== -1) dirs.add(file.slice(0, at + marker.length - 1));
  }
  return [...dirs];
}
