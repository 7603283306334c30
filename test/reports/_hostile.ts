/** A store whose job names, error types, messages and SLO texts try to inject markup. */
import { ATTR_COST_AMOUNT } from '../../contracts/index.js';
import { collectReportData } from '../../reports/index.js';
import type { ReportData } from '../../reports/index.js';
import type { Store } from '../../store/index.js';
import { HOUR, RANGE, T_END, evaluateSlo, specSpans } from './_fixture.js';

export const EVIL_JOB = '<script>alert(1)</script>';
export const EVIL_ERROR = '"><img src=x onerror=alert(1)>';
export const EVIL_MESSAGE = `</q></td><script>alert(2)</script><style>body{display:none}</style>' " \` = &amp;`;
export const EVIL_SLO = '<svg onload=alert(3)>';
export const GLOB_JOB = 'etl-*';

export async function fillHostile(store: Store): Promise<void> {
  const spans = [];
  for (let i = 0; i < 24; i++) {
    const t = RANGE.fromMillis + i * HOUR + 60_000;
    const fail = i % 4 === 0;
    spans.push(
      ...specSpans({
        job: EVIL_JOB,
        startMillis: t,
        outcome: fail ? 'failed' : 'succeeded',
        attempts: [{ startOffsetMillis: 0, durationMillis: 100 + i * 10, outcome: fail ? 'failed' : 'succeeded', exitCode: fail ? 3 : 0 }],
        errorType: fail ? EVIL_ERROR : undefined,
        message: fail ? EVIL_MESSAGE : undefined,
        attributes: { [ATTR_COST_AMOUNT]: 0.1 },
      }),
      ...specSpans({ job: GLOB_JOB, startMillis: t, outcome: 'succeeded', attempts: [{ startOffsetMillis: 0, durationMillis: 50, outcome: 'succeeded', exitCode: 0 }] }),
      ...specSpans({ job: 'etl-a', startMillis: t, outcome: 'failed', attempts: [{ startOffsetMillis: 0, durationMillis: 70, outcome: 'failed', exitCode: 9 }] }),
    );
  }
  await store.insertSpans(spans);
}

/** Report data over the hostile store, with hostile SLO and freshness texts. */
export async function hostileData(store: Store): Promise<ReportData> {
  const slo = await evaluateSlo(
    store,
    { name: EVIL_SLO, jobs: '<script>*', objective: 0.9, criterion: { kind: 'success' }, windowMillis: 7 * 24 * HOUR, description: EVIL_MESSAGE },
    [{ name: '<b>page</b>', burnRateThreshold: 2, longWindowMillis: HOUR, shortWindowMillis: 300_000 }],
    [{ tier: '<b>page</b>', state: 'firing', firedAtMillis: T_END - HOUR, resolvedAtMillis: null, burnRates: [{ windowMillis: HOUR, rate: 3 }], summary: EVIL_MESSAGE }],
  );
  return collectReportData(store, {
    range: RANGE,
    version: '<i>v</i>',
    storeLocation: 'duckdb:<b>evil</b>.duckdb',
    generatedAt: new Date(T_END),
    slos: [slo],
    freshness: [{ job: EVIL_JOB, state: 'late', expectedAtMillis: T_END - HOUR, lastSuccessAtMillis: null, detail: EVIL_MESSAGE }],
  });
}
