/**
 * Burn-rate alerts against the SRE Workbook's numbers, on a real DuckDB
 * `:memory:` store with synthetic runs. Time is a parameter of every
 * evaluation (no sleeps): the test steps it one evaluation interval at a time.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { detectionTimeMillis, evaluateSlo, parseConfig } from '../../analyzer/slo/index.js';
import type { SloDefinition } from '../../analyzer/slo/index.js';
import type { DuckDbStore } from '../../store/duckdb.js';
import { HOUR, MINUTE, memoryStore, steadyRuns } from './helpers.js';

const T_ERR = Date.UTC(2026, 5, 10, 12, 0, 0);
const EVERY = 10_000; // one run every 10 s
const STEP = MINUTE; // evaluation interval

let store: DuckDbStore;
beforeAll(async () => {
  store = await memoryStore();
});
afterAll(async () => {
  await store.close();
});

function slo(job: string, extra = ''): SloDefinition {
  const s = parseConfig(`slos:\n  - {name: ${job}, job: ${job}, objective: 0.99, window: 30d${extra}}\n`).slos[0];
  if (!s) throw new Error('no slo');
  return s;
}

/** First evaluation time >= from (stepping by STEP) at which tier `tier` fires (or stops firing when `want` is false). */
async function firstTime(s: SloDefinition, tier: number, from: number, until: number, want: boolean): Promise<number | null> {
  for (let at = from; at <= until; at += STEP) {
    const e = await evaluateSlo(store, s, at);
    if (e.tiers[tier]?.firing === want) return at;
  }
  return null;
}

describe('multiwindow burn-rate alerts (Workbook defaults, 30d, 99%)', () => {
  // Constant error ratio e from T_ERR, clean runs for 7h before: the long window's
  // error ratio grows as e·t/L, so the alert fires at t = factor·(1−o)/e·L.
  it.each([
    // tier index, error ratio, errors last (ms)
    [0, 1, 40 * MINUTE],
    [0, 0.5, 40 * MINUTE],
    [0, 0.25, 60 * MINUTE],
    [1, 1, 60 * MINUTE],
    [1, 0.3, 3 * HOUR],
  ])('tier %i with error ratio %f fires after factor·(1−o)/e·long window, within one interval', async (tier, e, errorsFor) => {
    const job = `steady-${tier}-${e}`;
    await store.insertSpans([
      ...steadyRuns(job, T_ERR - 7 * HOUR, T_ERR, EVERY, 0),
      ...steadyRuns(job, T_ERR, T_ERR + errorsFor, EVERY, e),
      ...steadyRuns(job, T_ERR + errorsFor, T_ERR + errorsFor + HOUR, EVERY, 0),
    ]);
    const s = slo(job);
    const t = s.alerting.tiers[tier];
    if (!t) throw new Error('no tier');
    const expected = detectionTimeMillis(e, s.objective, t.factor, t.longWindowMillis);
    const fired = await firstTime(s, tier, T_ERR, T_ERR + errorsFor, true);
    expect(fired, 'alert never fired').not.toBeNull();
    const detection = (fired as number) - T_ERR;
    // Fires at the first evaluation after the predicted instant (runs are 10 s apart).
    expect(detection).toBeGreaterThanOrEqual(expected - EVERY);
    expect(detection).toBeLessThanOrEqual(expected + STEP + EVERY);

    // Errors stop: the short window clears, so the alert stops within one short window.
    const stopped = await firstTime(s, tier, T_ERR + errorsFor, T_ERR + errorsFor + HOUR, false);
    expect(stopped).not.toBeNull();
    const reset = (stopped as number) - (T_ERR + errorsFor);
    expect(reset).toBeLessThanOrEqual(t.shortWindowMillis);
    // Workbook reset time: short window × (1 − threshold/e) once errors lasted a full short window.
    const predictedReset = t.shortWindowMillis * (1 - (t.factor * (1 - s.objective)) / e);
    expect(Math.abs(reset - predictedReset)).toBeLessThanOrEqual(STEP + EVERY);
  });

  it('never pages when the error ratio stays under factor × (1 − objective)', async () => {
    const job = 'low-burn';
    await store.insertSpans([...steadyRuns(job, T_ERR - 2 * HOUR, T_ERR + 2 * HOUR, EVERY, 0.1)]);
    const s = slo(job);
    expect(await firstTime(s, 0, T_ERR, T_ERR + 2 * HOUR, true)).toBeNull();
    // 10% errors is a 10x burn: above the 6x of the second page tier.
    expect(await firstTime(s, 1, T_ERR, T_ERR + 2 * HOUR, true)).not.toBeNull();
  });

  it('a short spike fires nothing: the long window must exceed the factor too', async () => {
    const job = 'spike';
    await store.insertSpans([
      ...steadyRuns(job, T_ERR - 2 * HOUR, T_ERR, EVERY, 0),
      ...steadyRuns(job, T_ERR, T_ERR + 4 * MINUTE, EVERY, 1),
      ...steadyRuns(job, T_ERR + 4 * MINUTE, T_ERR + HOUR, EVERY, 0),
    ]);
    const s = slo(job);
    // 4 minutes of 100% errors: 5m window burns 80x, 1h window 6.7x < 14.4.
    expect(await firstTime(s, 0, T_ERR, T_ERR + HOUR, true)).toBeNull();
  });

  it('does not evaluate or report disabled tiers, and replaced tiers use their own factor', async () => {
    const job = 'tiers';
    await store.insertSpans([...steadyRuns(job, T_ERR - HOUR, T_ERR + HOUR, EVERY, 1)]);
    const s = slo(
      job,
      ', alerting: {tiers: [{severity: page, long: 1h, short: 5m, factor: 14.4, enabled: false}, {severity: custom, long: 2h, short: 10m, budget: 0.05}]}',
    );
    const e = await evaluateSlo(store, s, T_ERR + 30 * MINUTE);
    expect(e.tiers.map((t) => [t.tier.severity, t.firing])).toEqual([['custom', true]]);
    // 5% of a 30d budget in 2h: 0.05 × 720h / 2h = 18.
    expect(e.tiers[0]?.tier.factor).toBeCloseTo(18, 9);
    expect([...e.burnRates.keys()]).not.toContain(5 * MINUTE);
  });

  it('holds an alert back until the long window has min_events events', async () => {
    const job = 'sparse';
    // Three failed runs in the hour: 100% errors, but too few to page with min_events 10.
    await store.insertSpans([...steadyRuns(job, T_ERR, T_ERR + 3 * MINUTE, MINUTE, 1)]);
    const guarded = slo(job, ', alerting: {min_events: 10}');
    const e = await evaluateSlo(store, guarded, T_ERR + 4 * MINUTE);
    expect(e.tiers[0]).toMatchObject({ firing: false, longEvents: 3 });
    const unguarded = slo(job, ', alerting: {min_events: 3}');
    expect((await evaluateSlo(store, unguarded, T_ERR + 4 * MINUTE)).tiers[0]?.firing).toBe(true);
  });

  it('counts latency SLIs: a succeeded run slower than the threshold is bad', async () => {
    const job = 'latency';
    const { run } = await import('./helpers.js');
    await store.insertSpans([...run(job, T_ERR, true, 500), ...run(job, T_ERR + 1000, true, 5_000), ...run(job, T_ERR + 2000, false, 100)]);
    const s = parseConfig(`slos:\n  - {name: l, job: ${job}, sli: latency, latency: {threshold: 1s}, objective: 0.9, window: 1d}\n`).slos[0];
    if (!s) throw new Error('no slo');
    const e = await evaluateSlo(store, s, T_ERR + HOUR);
    expect([e.good, e.total]).toEqual([1, 3]);
  });
});
