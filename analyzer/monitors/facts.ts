/**
 * Reads the run facts of monitors from a store: finished runs (run spans)
 * since the last judged tick, and runs that started and have not finished
 * (live `job.started` lifecycle events), when the store can tell and the
 * monitor has no `where:` (lifecycle events carry no dimensions).
 */
import type { RunReader } from '../../store/index.js';
import { DEFAULT_LOOKBACK_MILLIS } from './machine.js';
import type { MonitorDefinition, MonitorFacts, MonitorRecord, OpenRunFact } from './types.js';

/** Extra time read before the last judged tick, for runs whose spans arrived late. @default 1h */
export const FACTS_SETTLE_MILLIS = 3_600_000;

/** Most finished runs read per monitor and evaluation (the newest). */
export const MAX_FACT_RUNS = 10_000;


/** Where the facts of one monitor's evaluation start: a grace (and the settle time) before the last judged tick, at most the lookback. */
export function factsFromMillis(m: MonitorDefinition, prev: MonitorRecord | undefined, atMillis: number, lookbackMillis = DEFAULT_LOOKBACK_MILLIS): number {
  const floor = atMillis - lookbackMillis;
  const judged = prev?.judgedThroughMillis ?? null;
  if (judged === null) return floor;
  const reach = m.schedule.kind === 'period' ? m.schedule.periodMillis : 0;
  return Math.max(floor, Math.min(judged, atMillis) - m.graceMillis - reach - FACTS_SETTLE_MILLIS);
}

/**
 * Facts of one monitor at `atMillis`.
 * @param lookbackMillis how far back a monitor without a record reads @default 35 days
 */
export async function readMonitorFacts(store: RunReader, m: MonitorDefinition, prev: MonitorRecord | undefined, atMillis: number, lookbackMillis = DEFAULT_LOOKBACK_MILLIS): Promise<MonitorFacts> {
  const fromMillis = factsFromMillis(m, prev, atMillis, lookbackMillis);
  // Store windows are (from, to]: a run that ended exactly at `at` is read; one ms before `from` so one that ended exactly at `from` is too.
  const runs = await store.listRuns({ jobs: m.job, fromMillis: fromMillis - 1, toMillis: atMillis, order: 'latest', limit: MAX_FACT_RUNS, ...(m.where ? { where: m.where } : {}) });
  const finished = runs.map((r) => ({ runId: r.runId, startMillis: r.startMillis, endMillis: r.endMillis, outcome: r.outcome }));
  // Live lifecycle events carry no dimensions: a monitor with `where:` cannot tell whose open run it is.
  const rows = m.where ? [] : await store.openRuns(m.job, { fromMillis: atMillis - lookbackMillis, toMillis: atMillis });
  const open: OpenRunFact[] = rows.map((r) => ({ runId: r.runId, startMillis: r.startMillis }));
  return { fromMillis, finished, open };
}
