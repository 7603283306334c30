import { describe, expect, it } from 'vitest';
import {
  budgetExhaustedAtMillis,
  budgetRemaining,
  burnFactor,
  burnRate,
  defaultTiers,
  detectionTimeMillis,
  evaluateFromCounts,
  parseConfig,
  toSloJson,
} from '../../analyzer/slo/index.js';
import { DAY, HOUR, MINUTE } from './helpers.js';

describe('error budget arithmetic', () => {
  it.each([
    // good, total, objective, burn rate
    [990, 1000, 0.99, 1],
    [1000, 1000, 0.99, 0],
    [0, 1000, 0.99, 100],
    [856, 1000, 0.99, 14.4],
    [994, 1000, 0.999, 6],
  ])('burn rate of %i good / %i at objective %f is %f', (good, total, objective, want) => {
    expect(burnRate(good, total, objective)).toBeCloseTo(want, 9);
  });

  it('has no burn rate without events, and an untouched budget', () => {
    expect(burnRate(0, 0, 0.99)).toBeNull();
    expect(budgetRemaining(0, 0, 0.99)).toBe(1);
  });

  it.each([
    [995, 1000, 0.99, 0.5],
    [990, 1000, 0.99, 0],
    [980, 1000, 0.99, -1],
  ])('budget remaining of %i/%i at %f is %f (negative when overspent)', (good, total, objective, want) => {
    expect(budgetRemaining(good, total, objective)).toBeCloseTo(want, 9);
  });

  it('projects when the budget runs out: remaining × window / burn rate', () => {
    const at = Date.UTC(2026, 0, 1);
    // Half the budget left, burning at 2x: half a window × 1/2 = a quarter of 30d.
    expect(budgetExhaustedAtMillis(0.5, 2, 30 * DAY, at)).toBe(at + 7.5 * DAY);
    expect(budgetExhaustedAtMillis(0, 2, 30 * DAY, at)).toBe(at);
    expect(budgetExhaustedAtMillis(-0.3, 0, 30 * DAY, at)).toBe(at);
    expect(budgetExhaustedAtMillis(0.5, 0, 30 * DAY, at)).toBeNull();
    expect(budgetExhaustedAtMillis(0.5, null, 30 * DAY, at)).toBeNull();
    // Below 1x a rolling window's budget never runs out; at 1x or more it runs out within one window.
    expect(budgetExhaustedAtMillis(0.67, 0.33, 30 * DAY, at)).toBeNull();
    expect(budgetExhaustedAtMillis(1, 1, 30 * DAY, at)).toBe(at + 30 * DAY);
  });
});

describe('Workbook tiers scaled to the SLO window', () => {
  it.each([
    ['30d', [14.4, 6, 3, 1]],
    ['28d', [13.44, 5.6, 2.8, 0.9333]],
    ['7d', [3.36, 1.4, 0.7, 0.2333]],
  ])('window %s gives factors %j', (window, factors) => {
    const cfg = parseConfig(`slos:\n  - {name: s, job: j, objective: 0.99, window: ${window}}\n`);
    const tiers = cfg.slos[0]?.alerting.tiers ?? [];
    expect(tiers.map((t) => [t.severity, t.longWindowMillis, t.shortWindowMillis])).toEqual([
      ['page', HOUR, 5 * MINUTE],
      ['page', 6 * HOUR, 30 * MINUTE],
      ['ticket', DAY, 2 * HOUR],
      ['ticket', 3 * DAY, 6 * HOUR],
    ]);
    tiers.forEach((t, i) => expect(t.factor).toBeCloseTo(factors[i] as number, 4));
  });

  it('is factor = budget fraction × window / long window', () => {
    expect(burnFactor(0.02, 30 * DAY, HOUR)).toBeCloseTo(14.4, 12);
    expect(burnFactor(0.05, 28 * DAY, 6 * HOUR)).toBeCloseTo(5.6, 12);
    expect(defaultTiers(28 * DAY).map((t) => Math.round(t.factor * 100) / 100)).toEqual([13.44, 5.6, 2.8, 0.93]);
  });

  it.each([
    // error ratio, objective, factor, long window, detection time (Workbook: 1h window, 14.4 burn, 100% errors at 99.9% -> 0.864 min)
    [1, 0.999, 14.4, HOUR, 0.864 * MINUTE],
    [1, 0.99, 14.4, HOUR, 8.64 * MINUTE],
    [0.5, 0.99, 14.4, HOUR, 17.28 * MINUTE],
    [0.1, 0.999, 6, 6 * HOUR, 21.6 * MINUTE],
    [0.1, 0.99, 14.4, HOUR, Infinity],
  ])('detection time for error ratio %f at %f, factor %f, long %i ms is %f ms', (e, o, f, l, want) => {
    const got = detectionTimeMillis(e, o, f, l);
    if (want === Infinity) expect(got).toBe(Infinity);
    else expect(got).toBeCloseTo(want, 6);
  });
});

describe('evaluateFromCounts', () => {
  const slo = parseConfig('slos:\n  - {name: s, job: j, objective: 0.99, window: 30d, alerting: {min_events: 5}}\n').slos[0];
  if (!slo) throw new Error('no slo');
  const at = Date.UTC(2026, 5, 1);
  const counts = (c: Record<number, [number, number]>) => Object.entries(c).map(([w, [good, total]]) => ({ windowMillis: Number(w), good, total }));

  it('fires a tier only when both windows exceed the factor', () => {
    const e = evaluateFromCounts(
      slo,
      at,
      counts({ [30 * DAY]: [9_000, 9_100], [HOUR]: [80, 100], [5 * MINUTE]: [10, 10], [6 * HOUR]: [500, 600], [30 * MINUTE]: [40, 50], [DAY]: [1950, 2000], [2 * HOUR]: [195, 200], [3 * DAY]: [2000, 2100] }),
    );
    // 1h burns 20x but 5m burns 0x: no page on the first tier; 1d and 2h burn 2.5x, under the 3x ticket.
    expect(e.tiers.map((t) => t.firing)).toEqual([false, true, false, true]);
    const j = toSloJson(e);
    expect(j.burn_rates).toMatchObject({ '5m': 0, '30m': 20, '1h': 20, '6h': 16.666667 });
    expect(j.alerts.map((a) => [a.severity, a.long_window, a.short_window, a.factor])).toEqual([
      ['page', '1h', '5m', 14.4],
      ['page', '6h', '30m', 6],
      ['ticket', '1d', '2h', 3],
      ['ticket', '3d', '6h', 1],
    ]);
    expect(j.sli_value).toBeCloseTo(9_000 / 9_100, 6);
    // Budget overspent: exhausted "now".
    expect(j.error_budget_remaining).toBeLessThan(0);
    expect(j.budget_exhausted_at).toBe(new Date(at).toISOString());
  });

  it('does not fire with fewer long-window events than min_events', () => {
    const e = evaluateFromCounts(slo, at, counts({ [HOUR]: [0, 4], [5 * MINUTE]: [0, 4] }));
    expect(e.tiers[0]?.firing).toBe(false);
    const e5 = evaluateFromCounts(slo, at, counts({ [HOUR]: [0, 5], [5 * MINUTE]: [0, 5] }));
    expect(e5.tiers[0]?.firing).toBe(true);
  });
});
