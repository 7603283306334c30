/**
 * A realistic fixture store for the report tests: four jobs over two days
 * (the report window and the previous period), with retries, timeouts,
 * dead-lettering, error messages, costs, CPU, memory and queue delay, plus
 * SLO inputs computed from the same store the way an SLO evaluator would.
 */
import {
  ATTR_COST_AMOUNT,
  ATTR_CPU_SECONDS,
  ATTR_ERROR_TYPE,
  ATTR_MAX_RSS_BYTES,
  ATTR_QUEUED_TIME_UNIX_NANO,
  LifecycleEvent,
  lifecycleEventId,
} from '../../contracts/index.js';
import type { Attributes, SpanRecord } from '../../contracts/index.js';
import type { ReportFreshnessInput, ReportSloInput } from '../../reports/index.js';
import { DuckDbStore } from '../../store/duckdb.js';
import type { GoodRunCriterion, Store, TimeRange } from '../../store/index.js';
import { runSpans } from '../support/spans.js';
import type { FixtureAttempt, FixtureRun } from '../support/spans.js';

export const HOUR = 3_600_000;
export const DAY = 24 * HOUR;
/** End of the report window. */
export const T_END = Date.UTC(2026, 10, 29, 12, 0, 0);
export const RANGE: TimeRange = { fromMillis: T_END - DAY, toMillis: T_END };

/** mulberry32: the same runs every time. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface RunSpec {
  job: string;
  startMillis: number;
  outcome: FixtureRun['outcome'];
  attempts: FixtureAttempt[];
  deadLettered?: boolean;
  message?: string;
  errorType?: string;
  attributes?: Attributes;
}

/** runSpans plus a run-span status message and error type. */
export function specSpans(s: RunSpec): SpanRecord[] {
  const spans = runSpans({
    job: s.job,
    startMillis: s.startMillis,
    outcome: s.outcome,
    attempts: s.attempts,
    deadLettered: s.deadLettered,
    extraAttributes: { ...(s.errorType !== undefined ? { [ATTR_ERROR_TYPE]: s.errorType } : {}), ...s.attributes },
  });
  const run = spans[0] as SpanRecord;
  if (s.message !== undefined) spans[0] = { ...run, statusMessage: s.message };
  return spans;
}

const one = (durationMillis: number, outcome: FixtureAttempt['outcome'], exitCode?: number): FixtureAttempt => ({ startOffsetMillis: 0, durationMillis, outcome, exitCode });

/** The runs of the fixture: `from` to `to`, job by job. */
export function fixtureRuns(from: number, to: number, seed: number, worse: boolean): RunSpec[] {
  const r = prng(seed);
  const runs: RunSpec[] = [];
  const ns = (ms: number): string => (BigInt(Math.round(ms)) * 1_000_000n).toString();
  // nightly-etl: every 2 h, 20-40 min, one timeout per day.
  for (let t = from + 5 * 60_000, i = 0; t < to - 45 * 60_000; t += 2 * HOUR, i++) {
    const d = 20 * 60_000 + r() * 20 * 60_000;
    const timedOut = i === 7;
    runs.push({
      job: 'nightly-etl',
      startMillis: t,
      outcome: timedOut ? 'timed_out' : 'succeeded',
      attempts: [one(timedOut ? 45 * 60_000 : d, timedOut ? 'timed_out' : 'succeeded', timedOut ? undefined : 0)],
      errorType: timedOut ? 'timeout' : undefined,
      message: timedOut ? 'attempt exceeded its 45 min timeout' : undefined,
      attributes: { [ATTR_COST_AMOUNT]: 2.5, [ATTR_CPU_SECONDS]: 900 + r() * 300, [ATTR_MAX_RSS_BYTES]: 2_000_000_000 + Math.round(r() * 5e8) },
    });
  }
  // payments-sync: every 10 min, 200-900 ms with a slow tail; flaky upstream.
  for (let t = from + 60_000; t < to - 5 * 60_000; t += 10 * 60_000) {
    const queued = t - (500 + r() * (worse ? 9_000 : 3_000));
    const d = 200 + r() * 700 + (r() < 0.05 ? 4_000 + r() * 6_000 : 0);
    const p = r();
    const attributes = { [ATTR_COST_AMOUNT]: 0.002, [ATTR_QUEUED_TIME_UNIX_NANO]: ns(queued), [ATTR_CPU_SECONDS]: 0.4 };
    if (p < (worse ? 0.07 : 0.03)) {
      runs.push({
        job: 'payments-sync',
        startMillis: t,
        outcome: 'failed',
        deadLettered: true,
        attempts: [0, 1, 2].map((k) => ({ startOffsetMillis: k * 1_500, durationMillis: d, outcome: 'failed' as const, exitCode: 1 })),
        errorType: 'UpstreamUnavailableError',
        message:
          'upstream answered 503 Service Unavailable after 3 attempts; retry budget exhausted. Last response body: {"error":"maintenance","retry_after":120}\n' +
          '    at PaymentsClient.sync (/srv/payments/client.js:88:13)\n    at async runSync (/srv/payments/sync.js:41:5)',
        attributes,
      });
    } else if (p < 0.2) {
      runs.push({
        job: 'payments-sync',
        startMillis: t,
        outcome: 'succeeded',
        attempts: [
          { startOffsetMillis: 0, durationMillis: d, outcome: 'failed', exitCode: 1 },
          { startOffsetMillis: d + 800, durationMillis: d, outcome: 'succeeded', exitCode: 0 },
        ],
        attributes,
      });
    } else {
      runs.push({ job: 'payments-sync', startMillis: t, outcome: 'succeeded', attempts: [one(d, 'succeeded', 0)], attributes });
    }
  }
  // email-digest: hourly, fast; failed twice in the previous period only.
  for (let t = from + 30 * 60_000, i = 0; t < to; t += HOUR, i++) {
    const fail = !worse && (i === 3 || i === 4);
    runs.push({
      job: 'email-digest',
      startMillis: t,
      outcome: fail ? 'failed' : 'succeeded',
      attempts: [one(40 + r() * 60, fail ? 'failed' : 'succeeded', fail ? 2 : 0)],
      errorType: fail ? '2' : undefined,
      message: fail ? 'smtp: connection refused' : undefined,
    });
  }
  // broken-export: every 30 min; a bad credential since the current window's 8th hour.
  for (let t = from + 10 * 60_000; t < to; t += 30 * 60_000) {
    const broken = worse && t > from + 8 * HOUR;
    const ok = !broken && r() < 0.97;
    runs.push({
      job: 'broken-export',
      startMillis: t,
      outcome: ok ? 'succeeded' : 'failed',
      deadLettered: !ok,
      attempts: ok ? [one(1_000 + r() * 2_000, 'succeeded', 0)] : [0, 1].map((k) => ({ startOffsetMillis: k * 2_000, durationMillis: 300, outcome: 'failed' as const })),
      errorType: ok ? undefined : 'CredentialRejectedError',
      message: ok ? undefined : 'export API rejected the service credential (401 Unauthorized)',
      attributes: { [ATTR_COST_AMOUNT]: 0.05 },
    });
  }
  return runs;
}

/** Opens a migrated in-memory store. */
export async function memoryStore(): Promise<DuckDbStore> {
  const store = await DuckDbStore.open({ path: ':memory:' });
  await store.migrate();
  return store;
}

/** Fills a store with the previous period (healthier) and the report window (worse), and three payments-sync runs still queued at its end. */
export async function fillFixture(store: Store): Promise<void> {
  const specs = [...fixtureRuns(RANGE.fromMillis - DAY, RANGE.fromMillis, 1, false), ...fixtureRuns(RANGE.fromMillis, RANGE.toMillis, 2, true)];
  await store.insertSpans(specs.flatMap(specSpans));
  await store.insertLifecycleEvents(
    [1, 2, 3].map((i) => {
      const runId = `queued-${i}`;
      const t = BigInt(T_END - i * 60_000) * 1_000_000n;
      return { eventId: lifecycleEventId(runId, LifecycleEvent.Queued, t), type: LifecycleEvent.Queued, job: 'payments-sync', runId, timeUnixNano: t, attributes: {} };
    }),
  );
}

/** What an SLO evaluator would say about an SLO at `T_END`, computed from the store's window counts. */
export async function evaluateSlo(
  store: Store,
  def: { name: string; jobs: string; objective: number; criterion: GoodRunCriterion; windowMillis: number; description?: string },
  tiers: ReportSloInput['alertTiers'],
  alerts: ReportSloInput['alerts'],
): Promise<ReportSloInput> {
  const windows = [...new Set([def.windowMillis, ...tiers.flatMap((t) => [t.longWindowMillis, ...(t.shortWindowMillis ? [t.shortWindowMillis] : [])])])];
  const counts = await store.windowCounts({ jobs: def.jobs, criterion: def.criterion, endMillis: T_END, windowsMillis: windows });
  const whole = counts.find((c) => c.windowMillis === def.windowMillis) ?? { good: 0, total: 0 };
  const allowed = 1 - def.objective;
  const sli = whole.total === 0 ? null : whole.good / whole.total;
  const remaining = sli === null ? null : 1 - (1 - sli) / allowed;
  const burnRates = counts.filter((c) => c.windowMillis !== def.windowMillis).map((c) => ({ windowMillis: c.windowMillis, rate: c.total === 0 ? null : (1 - c.good / c.total) / allowed }));
  const longest = burnRates.reduce((a, b) => (b.windowMillis > a.windowMillis ? b : a), { windowMillis: 0, rate: null as number | null });
  const exhausted = remaining !== null && remaining > 0 && longest.rate !== null && longest.rate > 0 ? T_END + (remaining * def.windowMillis) / longest.rate : null;
  return { ...def, evaluatedAtMillis: T_END, sliValue: sli, good: whole.good, total: whole.total, errorBudgetRemaining: remaining, burnRates, budgetExhaustedAtMillis: exhausted, alertTiers: tiers, alerts };
}

export const TIERS: ReportSloInput['alertTiers'] = [
  { name: 'page', burnRateThreshold: 14.4, longWindowMillis: HOUR, shortWindowMillis: 5 * 60_000 },
  { name: 'ticket', burnRateThreshold: 6, longWindowMillis: 6 * HOUR, shortWindowMillis: 30 * 60_000 },
];

/** The fixture's SLOs as the SLO evaluator would hand them over. */
export async function fixtureSlos(store: Store): Promise<ReportSloInput[]> {
  return [
    await evaluateSlo(
      store,
      { name: 'export availability', jobs: 'broken-export', objective: 0.99, criterion: { kind: 'success' }, windowMillis: 7 * DAY, description: 'Customer exports must land: 99% of export runs succeed over 7 days.' },
      TIERS,
      [
        { tier: 'page', state: 'firing', firedAtMillis: RANGE.fromMillis + 8.5 * HOUR, resolvedAtMillis: null, burnRates: [{ windowMillis: HOUR, rate: 100 }, { windowMillis: 5 * 60_000, rate: 100 }], summary: 'broken-export is failing every run' },
        { tier: 'ticket', state: 'firing', firedAtMillis: RANGE.fromMillis + 9 * HOUR, resolvedAtMillis: null, burnRates: [{ windowMillis: 6 * HOUR, rate: 100 }] },
      ],
    ),
    await evaluateSlo(
      store,
      { name: 'payments freshness', jobs: 'payments-*', objective: 0.95, criterion: { kind: 'success' }, windowMillis: 7 * DAY },
      TIERS,
      [{ tier: 'ticket', state: 'resolved', firedAtMillis: RANGE.fromMillis + 3 * HOUR, resolvedAtMillis: RANGE.fromMillis + 5 * HOUR, burnRates: [{ windowMillis: 6 * HOUR, rate: 6.3 }] }],
    ),
    await evaluateSlo(store, { name: 'etl within 35 min', jobs: 'nightly-etl', objective: 0.9, criterion: { kind: 'latency', thresholdMillis: 35 * 60_000 }, windowMillis: 7 * DAY }, TIERS, []),
  ];
}

export const FRESHNESS: ReportFreshnessInput[] = [
  { job: 'nightly-etl', state: 'late', expectedAtMillis: T_END - 20 * 60_000, lastSuccessAtMillis: T_END - 2 * HOUR, detail: 'cron 5 */2 * * *' },
  { job: 'weekly-archive', state: 'missed', expectedAtMillis: T_END - 3 * HOUR, lastSuccessAtMillis: null, missedCount: 2, detail: 'cron 0 9 * * MON' },
];
