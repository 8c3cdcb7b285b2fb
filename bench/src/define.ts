/** One measured case: a variant inside a group, run in a process of its own. */
export interface BenchCase {
  /** The table it belongs to, e.g. `closed`. */
  readonly group: string;
  /** The variant, e.g. `bare`, `ballast`, `opossum`. `bare` is the reference of its group. */
  readonly name: string;
  /**
   * Marks the case the others in its group are compared with, when the group has no `bare`
   * (e.g. a peer library the target is stated against).
   */
  readonly reference?: boolean;
  /**
   * Runs the case in the first this-many rounds only: for measures far steadier than a time
   * (instruction counts) that take minutes each.
   */
  readonly rounds?: number;
  /** Unit of `run()`'s value, e.g. `ns/op`, `req/s`, `bytes`. */
  readonly unit: string;
  readonly lowerIsBetter: boolean;
  /** Measures once in a fresh process and returns the value. */
  run(): Promise<number> | number;
}

/** Declares the cases of a bench file (its default export). */
export function defineBench(cases: BenchCase[]): BenchCase[] {
  const seen = new Set<string>();
  for (const c of cases) {
    const id = `${c.group}/${c.name}`;
    if (seen.has(id)) throw new Error(`duplicate bench case ${id}`);
    seen.add(id);
  }
  return cases;
}
