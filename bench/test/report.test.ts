import { describe, expect, it } from 'vitest';
import { defineBench } from '../src/define.ts';
import { median } from '../src/measure.ts';
import { renderReport } from '../src/report.ts';

describe('bench harness', () => {
  it('takes the median of an odd and an even number of samples', () => {
    expect(median([5, 1, 3])).toBe(3);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(() => median([])).toThrow(/median of nothing/);
  });

  it('rejects two cases with the same group and name', () => {
    const run = () => 1;
    const c = { group: 'g', name: 'n', unit: 'ns/op', lowerIsBetter: true, run };
    expect(() => defineBench([c, { ...c }])).toThrow(/duplicate bench case g\/n/);
  });

  it('renders a table per group with the ratio to the bare baseline', () => {
    const md = renderReport([
      {
        package: '@ballast/example',
        node: 'v24.0.0',
        date: '2026-11-26',
        command: 'npm run bench -w @ballast/example',
        rounds: 5,
        cases: [
          { group: 'closed', name: 'bare', value: 100, unit: 'ns/op', lowerIsBetter: true },
          { group: 'closed', name: 'ballast', value: 150, unit: 'ns/op', lowerIsBetter: true },
          { group: 'heap', name: 'ballast', value: 2048, unit: 'bytes', lowerIsBetter: true },
        ],
      },
    ]);
    expect(md).toContain('## @ballast/example');
    expect(md).toContain('### closed');
    expect(md).toContain('| ballast | 150 | ns/op (lower is better) | 1.50× |');
    // a group without a bare baseline has no ratio
    expect(md).toContain('| ballast | 2,048 | bytes (lower is better) | — |');
  });
});
