import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectReportData, renderReportSite, reportSloFromEvaluation } from '../../reports/index.js';
import type { SloEvaluationLike } from '../../reports/index.js';
import type { DuckDbStore } from '../../store/duckdb.js';
import { decode } from './_html.js';
import { DAY, HOUR, RANGE, T_END, fillFixture, memoryStore } from './_fixture.js';

/** Shaped like the SLO evaluator's SloEvaluation for the Workbook's tiers. */
function evaluation(over: Partial<SloEvaluationLike['slo']> = {}, firing6h = true): SloEvaluationLike {
  return {
    slo: { name: 'sync availability', job: 'payments-sync', sli: 'success', objective: 0.99, windowMillis: 30 * DAY, ...over },
    atMillis: T_END,
    good: 990,
    total: 1000,
    sli: 0.99,
    budgetRemaining: 0,
    burnRates: new Map<number, number | null>([
      [5 * 60_000, null],
      [HOUR, 2],
      [6 * HOUR, 7.5],
    ]),
    budgetExhaustedAtMillis: null,
    tiers: [
      { tier: { severity: 'page', longWindowMillis: HOUR, shortWindowMillis: 5 * 60_000, factor: 14.4 }, burnRateLong: 2, burnRateShort: null, firing: false },
      { tier: { severity: 'page', longWindowMillis: 6 * HOUR, shortWindowMillis: 30 * 60_000, factor: 6 }, burnRateLong: 7.5, burnRateShort: 8, firing: firing6h },
      { tier: { severity: 'ticket', longWindowMillis: 3 * DAY, shortWindowMillis: 6 * HOUR, factor: 1 }, burnRateLong: 0.8, burnRateShort: 7.5, firing: false },
    ],
  };
}

let store: DuckDbStore;
beforeAll(async () => {
  store = await memoryStore();
  await fillFixture(store);
});
afterAll(async () => {
  await store.close();
});

describe('reportSloFromEvaluation', () => {
  it('maps an evaluation field by field, firing tiers becoming firing alerts with both windows\' burn rates', () => {
    const input = reportSloFromEvaluation(evaluation(), [
      { severity: 'page', longWindowMillis: 6 * HOUR, state: 'firing', firedAtMillis: T_END - HOUR, resolvedAtMillis: null },
      { severity: 'ticket', longWindowMillis: 3 * DAY, state: 'resolved', firedAtMillis: T_END - 5 * HOUR, resolvedAtMillis: T_END - 2 * HOUR },
    ]);
    expect(input).toMatchObject({
      name: 'sync availability',
      jobs: 'payments-sync',
      objective: 0.99,
      criterion: { kind: 'success' },
      windowMillis: 30 * DAY,
      evaluatedAtMillis: T_END,
      sliValue: 0.99,
      errorBudgetRemaining: 0,
      burnRates: [
        { windowMillis: 5 * 60_000, rate: null },
        { windowMillis: HOUR, rate: 2 },
        { windowMillis: 6 * HOUR, rate: 7.5 },
      ],
    });
    expect(input.alertTiers.map((t) => [t.name, t.burnRateThreshold, t.longWindowMillis])).toEqual([
      ['page', 14.4, HOUR],
      ['page', 6, 6 * HOUR],
      ['ticket', 1, 3 * DAY],
    ]);
    expect(input.alerts).toEqual([
      {
        tier: 'page',
        longWindowMillis: 6 * HOUR,
        state: 'firing',
        firedAtMillis: T_END - HOUR,
        resolvedAtMillis: null,
        burnRates: [{ windowMillis: 6 * HOUR, rate: 7.5 }, { windowMillis: 30 * 60_000, rate: 8 }],
        // Without a summary in the alert state, one from the tier's burn rates: the column is never empty.
        summary: 'burning 7.5x over 6h and 8x over 30m, above 6x',
      },
      { tier: 'ticket', longWindowMillis: 3 * DAY, state: 'resolved', firedAtMillis: T_END - 5 * HOUR, resolvedAtMillis: T_END - 2 * HOUR, burnRates: [] },
    ]);
  });

  it('shows a firing alert against the threshold of its own tier when two tiers share a name', async () => {
    const data = await collectReportData(store, { range: RANGE, version: 't', slos: [reportSloFromEvaluation(evaluation())] });
    const oncall = renderReportSite(data).get('oncall.html') as string;
    const row = /<tr data-alert="firing">[\s\S]*?<\/tr>/.exec(oncall)?.[0] ?? '';
    expect(decode(row)).toContain('30 min 8.00×, 6h 7.50× <span class="meta">(≥ 6.00×)</span>');
    // No alert state was given: the start is unknown, and the column says so instead of repeating "firing".
    expect(decode(row)).toContain('>not recorded<');
    expect(decode(row)).toContain('burning 7.5x over 6h and 8x over 30m, above 6x');
  });

  it('gives a freshness SLO its figures but no run-based charts', async () => {
    const input = reportSloFromEvaluation(evaluation({ name: 'etl fresh', job: 'nightly-etl', sli: 'freshness' }, false));
    expect(input.criterion).toBeNull();
    const data = await collectReportData(store, { range: RANGE, version: 't', slos: [input] });
    expect(data.slos?.[0]).toMatchObject({ budgetSeries: [], burnSeries: [] });
    const site = renderReportSite(data);
    const page = [...site.entries()].find(([p]) => p.startsWith('slos/'))?.[1] ?? '';
    expect(page).toContain('This SLI does not count runs');
    expect(page).not.toContain('Burn rate: etl fresh');
  });

  it('reports no budget figure for an SLO without events', () => {
    expect(reportSloFromEvaluation({ ...evaluation(), good: 0, total: 0, sli: null, budgetRemaining: 1 }).errorBudgetRemaining).toBeNull();
  });
});
