import { ManualClock } from '@ballast/test-utils';
import { describe, expect, it } from 'vitest';
import {
  type Balancer,
  type Endpoint,
  isDiscoveryError,
  leastOutstanding,
  p2cPeakEwma,
  random,
  resolver,
  roundRobin,
  weighted,
} from '../src/index.ts';
import { fleet, ManualRegistry } from './support/manual-registry.ts';

function setup(balancer: Balancer, n: number, extra: Parameters<typeof fleet>[1] = {}) {
  const clock = new ManualClock(0);
  const registry = new ManualRegistry();
  const r = resolver({ registry, service: 'orders', clock, balancer, ejection: false });
  registry.push('orders', fleet(n, extra));
  return { clock, registry, r };
}

/** Two instances behind p2cPeakEwma (10 s decay), each of which has answered once in 10 ms. */
function twoAnsweredIn10Ms() {
  const { clock, r } = setup(p2cPeakEwma({ decayMs: 10_000 }), 2);
  const [a, b] = r.endpoints() as [Endpoint, Endpoint];
  for (const endpoint of [a, b]) {
    const pick = r.pick({ exclude: endpoint === a ? b : a });
    clock.advance(10);
    pick.done('success');
  }
  return { clock, r, a, b };
}

function shares(picks: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const id of picks) out[id] = (out[id] ?? 0) + 1 / picks.length;
  return out;
}

describe('roundRobin', () => {
  it('takes each endpoint in turn and skips the excluded one', () => {
    const { r } = setup(roundRobin(), 3);
    const ids = Array.from({ length: 6 }, () => r.pick().instance.id);
    expect(ids).toEqual(['i0', 'i1', 'i2', 'i0', 'i1', 'i2']);
    const excluded = r.endpoints()[0]!;
    for (let i = 0; i < 6; i++) expect(r.pick({ exclude: excluded }).instance.id).not.toBe('i0');
  });
});

describe('random', () => {
  it('spreads evenly and never returns the excluded endpoint', () => {
    const { r } = setup(random(), 4);
    const picks = Array.from({ length: 4000 }, () => r.pick().instance.id);
    for (const share of Object.values(shares(picks))) expect(share).toBeCloseTo(0.25, 1);
    const excluded = r.endpoints()[2]!;
    for (let i = 0; i < 200; i++) expect(r.pick({ exclude: excluded }).instance.id).not.toBe('i2');
  });
});

describe('leastOutstanding', () => {
  it('sends new requests away from an instance with requests piling up', () => {
    const { r } = setup(leastOutstanding(), 2);
    // i0 takes a request and never answers: with one outstanding it loses every comparison.
    let stuck = r.pick();
    while (stuck.instance.id !== 'i0') {
      stuck.done('success');
      stuck = r.pick();
    }
    const later = Array.from({ length: 20 }, () => {
      const pick = r.pick();
      pick.done('success');
      return pick.instance.id;
    });
    expect(later).toEqual(Array(20).fill('i1'));
    stuck.done('success');
  });

  it('never returns the excluded endpoint when another exists', () => {
    const { r } = setup(leastOutstanding(), 5);
    const excluded = r.endpoints()[4]!;
    for (let i = 0; i < 500; i++) expect(r.pick({ exclude: excluded }).endpoint).not.toBe(excluded);
  });
});

describe('p2cPeakEwma', () => {
  /** 5 instances, i4 answers in 100 ms, the rest in 10 ms; requests complete one at a time. */
  function simulate(balancer: Balancer, requests: number, spacingMs: number) {
    const { clock, r } = setup(balancer, 5);
    const picks: string[] = [];
    for (let i = 0; i < requests; i++) {
      const pick = r.pick();
      picks.push(pick.instance.id);
      const latency = pick.instance.id === 'i4' ? 100 : 10;
      clock.advance(latency);
      pick.done('success');
      clock.advance(spacingMs);
    }
    return picks;
  }

  it('routes around a 10× slower instance, probing it now and then', () => {
    const picks = simulate(p2cPeakEwma(), 3000, 0);
    const slowShare = picks.slice(500).filter((id) => id === 'i4').length / (picks.length - 500);
    expect(slowShare).toBeLessThan(0.02);
    expect(slowShare).toBeGreaterThan(0); // still probed: it would be noticed when it recovers
  });

  it('round robin, for comparison, sends the slow instance its full share', () => {
    const picks = simulate(roundRobin(), 1000, 0);
    expect(picks.filter((id) => id === 'i4').length).toBe(200);
  });

  it('seeds a new endpoint from its first sample and decays an idle estimate toward zero', () => {
    const { clock, r } = setup(p2cPeakEwma({ decayMs: 1000 }), 2);
    const [a, b] = r.endpoints() as [Endpoint, Endpoint];
    // Excluding b leaves a as the only choice: a deterministic way to send a request to a.
    const toA = (latencyMs: number) => {
      const pick = r.pick({ exclude: b });
      expect(pick.endpoint).toBe(a);
      clock.advance(latencyMs);
      pick.done('success');
    };
    expect(a.latencyMs).toBeUndefined();
    toA(50);
    expect(a.latencyMs).toBe(50); // the first sample, not blended with a default
    toA(10); // a faster answer lowers the estimate gradually…
    expect(a.latencyMs).toBeGreaterThan(10);
    expect(a.latencyMs).toBeLessThan(50);
    toA(200); // …a slower one raises it at once (peak)
    expect(a.latencyMs).toBe(200);
    // Idle, a's estimate decays toward zero: after a while it wins against a busy b (40 ms) again.
    const pick = r.pick({ exclude: a });
    clock.advance(40);
    pick.done('success');
    const before = r.pick();
    expect(before.endpoint).toBe(b);
    before.done('cancelled');
    clock.advance(3000);
    const fresh = r.pick({ exclude: a }); // b keeps answering in 40 ms meanwhile
    clock.advance(40);
    fresh.done('success');
    const after = r.pick();
    expect(after.endpoint).toBe(a);
    after.done('cancelled');
  });

  it('penalises a failure that fails fast', () => {
    const { clock, r } = setup(p2cPeakEwma({ failurePenaltyMs: 500 }), 2);
    const picks = [r.pick(), r.pick({ exclude: undefined })];
    while (picks[1]!.instance.id === picks[0]!.instance.id) {
      picks[1]!.done('cancelled');
      picks[1] = r.pick({ exclude: picks[0]!.endpoint });
    }
    clock.advance(5);
    picks[1]!.done('success');
    const pick = picks[0]!;
    pick.done('connect-error');
    expect(pick.endpoint.latencyMs).toBe(500);
    // The failed one now loses every comparison until its estimate decays.
    const ids = Array.from({ length: 20 }, () => {
      const p = r.pick();
      p.done('cancelled');
      return p.instance.id;
    });
    expect(ids).not.toContain(pick.instance.id);
  });

  it('does not let failures in a row compound: a recovered instance is probed again soon', () => {
    const { clock, r } = setup(p2cPeakEwma({ decayMs: 1000, failurePenaltyMs: 1000 }), 2);
    const [a, b] = r.endpoints() as [Endpoint, Endpoint];
    // an outage: a fails fast 300 times in a row (each used to double the estimate: 1e90 ms)
    for (let i = 0; i < 300; i++) {
      const pick = r.pick({ exclude: b });
      clock.advance(5);
      pick.done('server-error');
      clock.advance(60);
    }
    expect(a.latencyMs).toBeLessThanOrEqual(1000);
    // then it recovers while b serves at 20 ms: a gets a request again within a few decay times
    const start = clock.now();
    let probedAfter = -1;
    while (clock.now() - start < 60_000) {
      const pick = r.pick();
      clock.advance(20);
      pick.done('success');
      if (pick.endpoint === a) {
        probedAfter = clock.now() - start;
        break;
      }
      clock.advance(45);
    }
    expect(probedAfter).toBeGreaterThan(0);
    expect(probedAfter).toBeLessThan(6000); // ln(1000 / 20) decay times
  });

  it("counts a cancelled request's wait as a lower bound of its latency", () => {
    const { clock, r, a, b } = twoAnsweredIn10Ms();
    // a hedge abandons a's request after 40 ms: a now looks slower than b, which answered in 10
    const abandoned = r.pick({ exclude: b });
    clock.advance(40);
    abandoned.done('cancelled');
    expect(a.latencyMs).toBe(40);
    for (let i = 0; i < 10; i++) {
      const pick = r.pick();
      expect(pick.endpoint).toBe(b);
      pick.done('cancelled'); // a cancel at once says nothing
    }
    expect(b.latencyMs).toBeLessThan(10.1);
  });

  it('counts the age of requests in flight: an idle, decayed instance does not win while its request waits', () => {
    const { clock, r, a, b } = twoAnsweredIn10Ms();
    clock.advance(60_000); // both idle: estimates decayed to ~0
    const busy = r.pick({ exclude: a }); // b: one request, answered in 10 ms
    clock.advance(10);
    busy.done('success');
    const probe = r.pick({ exclude: b }); // a gets a request that does not answer
    clock.advance(30);
    // a's estimate is ~0, but its request has waited 30 ms: b (10 ms) wins
    for (let i = 0; i < 10; i++) {
      const pick = r.pick();
      expect(pick.endpoint).toBe(b);
      pick.done('cancelled');
    }
    probe.done('cancelled');
    expect(a.latencyMs).toBe(30);
  });

  it('uses defaultRttMs for endpoints without a sample when given', () => {
    const { clock, r } = setup(p2cPeakEwma({ defaultRttMs: 30, decayMs: 10_000 }), 2);
    const pick = r.pick();
    clock.advance(10);
    pick.done('success');
    // Blended from the 30 ms prior, not replaced by the first sample.
    expect(pick.endpoint.latencyMs).toBeGreaterThan(10);
  });

  it('refuses bad options', () => {
    for (const [options, option] of [
      [{ decayMs: 0 }, 'decayMs'],
      [{ defaultRttMs: -1 }, 'defaultRttMs'],
      [{ failurePenaltyMs: 'x' }, 'failurePenaltyMs'],
      [{ decay: 1 }, 'decay'],
    ] as const) {
      try {
        p2cPeakEwma(options as never);
        expect.unreachable();
      } catch (error) {
        expect(isDiscoveryError(error, 'INVALID_OPTIONS') && error.option).toBe(option);
      }
    }
  });
});

describe('weighted', () => {
  it('picks in proportion to the weights', () => {
    const clock = new ManualClock(0);
    const registry = new ManualRegistry();
    const r = resolver({ registry, service: 'orders', clock, balancer: weighted() });
    registry.push('orders', [
      { id: 'a', weight: 1 },
      { id: 'b', weight: 3 },
      { id: 'c', weight: 6 },
    ]);
    const picks = Array.from({ length: 20_000 }, () => r.pick().instance.id);
    const s = shares(picks);
    expect(s.a).toBeCloseTo(0.1, 1);
    expect(s.b).toBeCloseTo(0.3, 1);
    expect(s.c).toBeCloseTo(0.6, 1);
    const excluded = r.endpoints()[2]!;
    for (let i = 0; i < 200; i++) expect(r.pick({ exclude: excluded }).instance.id).not.toBe('c');
  });
});
