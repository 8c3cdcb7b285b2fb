/** Median of a list of numbers. */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new Error('median of nothing');
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/**
 * Nanoseconds per call of `fn`: warms up, then times `batches` batches of `iterations` calls and
 * returns the median batch. Async functions are awaited one call at a time.
 */
export async function nsPerOp(
  fn: () => unknown,
  { iterations = 100_000, batches = 7, warmup = 50_000 } = {},
): Promise<number> {
  const probe = fn();
  const isAsync = probe instanceof Promise;
  if (isAsync) await probe;
  const loop = isAsync
    ? async (n: number) => {
        for (let i = 0; i < n; i++) await fn();
      }
    : (n: number) => {
        for (let i = 0; i < n; i++) fn();
      };
  await loop(warmup);
  const samples: number[] = [];
  for (let b = 0; b < batches; b++) {
    const start = process.hrtime.bigint();
    await loop(iterations);
    samples.push(Number(process.hrtime.bigint() - start) / iterations);
  }
  return median(samples);
}

/** Runs a full garbage collection (the worker is started with --expose-gc). */
export function collectGarbage(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('bench workers must run with --expose-gc');
  for (let i = 0; i < 3; i++) gc();
}

/** Heap bytes retained by what `build()` returns (measured after full GCs). */
export async function retainedHeapBytes(build: () => unknown): Promise<number> {
  collectGarbage();
  const before = process.memoryUsage().heapUsed;
  const kept = await build();
  collectGarbage();
  const after = process.memoryUsage().heapUsed;
  // keep `kept` alive until after the measurement
  if (kept === Symbol.for('never')) console.log(kept);
  return after - before;
}
