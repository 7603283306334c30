import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../contracts/index.js';
import { computeBackoffMillis, DEFAULT_BACKOFF, parseJitterKind, validateBackoff, type BackoffPolicy } from '../../executor/index.js';

const policy = (p: Partial<BackoffPolicy>): BackoffPolicy => ({ ...DEFAULT_BACKOFF, ...p });
const fixed = (r: number) => () => r;

describe('computeBackoffMillis follows the AWS "Exponential Backoff And Jitter" formulas', () => {
  const cases: { name: string; p: Partial<BackoffPolicy>; attempt: number; prev?: number; random: number; want: number }[] = [
    // no jitter: t = min(cap, base * 2^(attempt-1))
    { name: 'exponential, none, first retry waits base', p: { jitter: 'none' }, attempt: 1, random: 0.9, want: 1_000 },
    { name: 'exponential, none, doubles', p: { jitter: 'none' }, attempt: 2, random: 0.9, want: 2_000 },
    { name: 'exponential, none, 4th retry', p: { jitter: 'none' }, attempt: 4, random: 0.9, want: 8_000 },
    { name: 'exponential, none, capped at max', p: { jitter: 'none' }, attempt: 6, random: 0.9, want: 30_000 },
    { name: 'exponential, none, huge attempt stays at cap', p: { jitter: 'none' }, attempt: 5_000, random: 0.9, want: 30_000 },
    { name: 'fixed, none, always base', p: { kind: 'fixed', jitter: 'none' }, attempt: 7, random: 0.9, want: 1_000 },
    { name: 'fixed, base above cap is capped', p: { kind: 'fixed', jitter: 'none', baseDelayMillis: 5_000, maxDelayMillis: 2_000 }, attempt: 1, random: 0, want: 2_000 },
    // full: random(0, t)
    { name: 'full, random 0 -> 0', p: { jitter: 'full' }, attempt: 3, random: 0, want: 0 },
    { name: 'full, random 0.5 -> t/2', p: { jitter: 'full' }, attempt: 3, random: 0.5, want: 2_000 },
    { name: 'full, random ~1 -> ~t', p: { jitter: 'full' }, attempt: 3, random: 0.999, want: 3_996 },
    { name: 'full, capped before jitter', p: { jitter: 'full' }, attempt: 10, random: 0.5, want: 15_000 },
    // equal: t/2 + random(0, t/2)
    { name: 'equal, random 0 -> t/2', p: { jitter: 'equal' }, attempt: 2, random: 0, want: 1_000 },
    { name: 'equal, random 0.5 -> 3t/4', p: { jitter: 'equal' }, attempt: 2, random: 0.5, want: 1_500 },
    { name: 'equal, capped', p: { jitter: 'equal' }, attempt: 20, random: 1, want: 30_000 },
    // decorrelated: min(cap, random(base, prev * 3))
    { name: 'decorrelated, first retry uses base as prev', p: { jitter: 'decorrelated' }, attempt: 1, random: 0.5, want: 2_000 },
    { name: 'decorrelated, random 0 -> base', p: { jitter: 'decorrelated' }, attempt: 3, prev: 5_000, random: 0, want: 1_000 },
    { name: 'decorrelated, random 0.5 of [base, 3 prev]', p: { jitter: 'decorrelated' }, attempt: 3, prev: 5_000, random: 0.5, want: 8_000 },
    { name: 'decorrelated, capped', p: { jitter: 'decorrelated' }, attempt: 3, prev: 20_000, random: 0.9, want: 30_000 },
    { name: 'decorrelated, prev below base counts as base', p: { jitter: 'decorrelated' }, attempt: 2, prev: 10, random: 1, want: 3_000 },
  ];
  for (const c of cases) {
    it(`${c.name}: ${c.want} ms`, () => {
      expect(computeBackoffMillis(policy(c.p), c.attempt, c.prev, fixed(c.random))).toBe(c.want);
    });
  }

  it('stays within [0, cap] for every jitter and many random draws', () => {
    for (const jitter of ['none', 'full', 'equal', 'decorrelated'] as const) {
      let prev: number | undefined;
      for (let attempt = 1; attempt < 40; attempt++) {
        const d = computeBackoffMillis(policy({ jitter, maxDelayMillis: 7_000 }), attempt, prev, Math.random);
        expect(d).toBeGreaterThanOrEqual(0);
        expect(d).toBeLessThanOrEqual(7_000);
        expect(Number.isInteger(d)).toBe(true);
        prev = d;
      }
    }
  });
});

describe('backoff validation names the bad option', () => {
  it('rejects a base above the cap', () => {
    expect(() => validateBackoff(policy({ baseDelayMillis: 10, maxDelayMillis: 5 }), '--backoff')).toThrow(/--backoff\.baseDelayMillis/);
  });
  it('rejects negative delays', () => {
    expect(() => validateBackoff(policy({ maxDelayMillis: -1 }))).toThrow(ConfigError);
  });
  it('rejects an unknown jitter with the flag name', () => {
    expect(() => parseJitterKind('wild', '--jitter')).toThrow(/--jitter: "wild" is not a jitter kind/);
  });
});
