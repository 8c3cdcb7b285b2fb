/** Latency samples and counts of one kind of request. */
export class Samples {
  private values: number[] = [];
  count = 0;
  ok = 0;
  readonly byCode = new Map<string, number>();

  record(ms: number, code: string, ok: boolean): void {
    this.values.push(ms);
    this.count++;
    if (ok) this.ok++;
    this.byCode.set(code, (this.byCode.get(code) ?? 0) + 1);
  }

  /** Every recorded latency, in recording order. */
  latencies(): number[] {
    return [...this.values];
  }

  /** The q-quantile (0..1) of every recorded latency, nearest rank. */
  quantile(q: number): number {
    if (this.values.length === 0) return 0;
    const sorted = [...this.values].sort((a, b) => a - b);
    const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
    return sorted[rank] as number;
  }

  summary() {
    const round = (n: number) => Math.round(n * 10) / 10;
    return {
      count: this.count,
      ok: this.ok,
      failed: this.count - this.ok,
      p50Ms: round(this.quantile(0.5)),
      p95Ms: round(this.quantile(0.95)),
      p99Ms: round(this.quantile(0.99)),
      maxMs: round(this.quantile(1)),
      byCode: Object.fromEntries([...this.byCode.entries()].sort()),
    };
  }
}

/** The q-quantile (0..1) of `values`, nearest rank. */
export function quantile(values: number[], q: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[
    Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))
  ] as number;
}
