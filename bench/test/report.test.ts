import { describe, expect, it } from 'vitest';
import { defineBench } from '../src/define.ts';
import { netInstructions } from '../src/instructions.ts';
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

  it('gives a ratio case (measured within each round) its median and range over the rounds', () => {
    const md = renderReport([
      {
        package: '@ballast/example',
        node: 'v24.0.0',
        date: '2026-11-26',
        command: 'npm run bench -w @ballast/example',
        rounds: 3,
        cases: [
          {
            group: 'interleaved',
            name: 'ballast/floor',
            value: 0.95,
            unit: 'ratio',
            lowerIsBetter: false,
            samples: [0.95, 0.9, 1.02],
          },
        ],
      },
    ]);
    expect(md).toContain('| case | value | unit | over the rounds |');
    expect(md).toContain(
      '| ballast/floor | 0.950 | ratio (higher is better) | 0.95× (0.90–1.02) |',
    );
  });

  it('compares with the marked reference by the median of same-round ratios, with their range', () => {
    const md = renderReport([
      {
        package: '@ballast/example',
        node: 'v24.0.0',
        date: '2026-11-26',
        command: 'npm run bench -w @ballast/example',
        rounds: 3,
        cases: [
          // per round: 1.10, 0.90, 1.05 -> median 1.05, although the medians' ratio is 1.00
          {
            group: 'distinct',
            name: 'ballast',
            value: 100,
            unit: 'ops/s',
            lowerIsBetter: false,
            samples: [110, 90, 105],
          },
          {
            group: 'distinct',
            name: 'jose',
            value: 100,
            unit: 'ops/s',
            lowerIsBetter: false,
            reference: true,
            samples: [100, 100, 100],
          },
          // a round count that does not match falls back to the ratio of the medians
          {
            group: 'distinct',
            name: 'other',
            value: 50,
            unit: 'ops/s',
            lowerIsBetter: false,
            samples: [50],
          },
        ],
      },
    ]);
    expect(md).toContain('| case | value | unit | vs jose |');
    expect(md).toContain('| ballast | 100 | ops/s (higher is better) | 1.05× (0.90–1.10) |');
    expect(md).toContain('| jose | 100 | ops/s (higher is better) | 1.00× |');
    expect(md).toContain('| other | 50.0 | ops/s (higher is better) | 0.50× |');
  });

  it("sums a cachegrind file without V8's randomised start-up functions", () => {
    const out = [
      'events: Ir',
      'fl=???',
      'fn=detail::sprp(unsigned long long, unsigned long long)',
      '0 700',
      '0 50',
      'fn=Builtins_LoadIC',
      '0 200',
      'fn=v8::internal::HashSeed::InitializeRoots(v8::internal::Isolate*)',
      '0 25',
      'summary: 1000',
    ].join('\n');
    expect(netInstructions(out)).toBe(225);
    expect(() => netInstructions('fn=x\n0 5\n')).toThrow(/no "summary:" line/);
  });
});
