/**
 * What the rollup buckets hold, as pure functions of the derived runs: a
 * minute bucket keeps each run's end time, outcome, latency and attempts; an
 * hour bucket keeps counts by outcome, attempts, good counts at every latency
 * threshold registered for its job, and a latency sketch. Both stores write
 * exactly these contents, so one set of tests pins the arithmetic.
 */
import { COUNTED_OUTCOMES } from '../../contracts/index.js';
import type { GoodRunCriterion, JobSelector } from '../types.js';
import { MINUTE_NS, floorDiv } from './buckets.js';
import { sketchAdd, sketchKey } from './sketch.js';
import type { Sketch } from './sketch.js';

/** One finished run as the rollups need it (what the raw run derivation gives). */
export interface RunFact {
  job: string;
  runId: string;
  /** Final outcome time, Unix ns. */
  runEndNs: bigint;
  /** Run start (the earliest start of its run and attempt rows), Unix ns; null when the run has none. */
  startNs: bigint | null;
  outcome: string;
  /** Last attempt end minus run start, ns; null when the run has no start. */
  latencyNs: bigint | null;
  attempts: number;
  /** False for a run that never started an attempt (it has no latency percentile). */
  ran: boolean;
  /*
   * What per-job aggregates and run lists read besides the above. Present on
   * facts from the run derivation (which minute buckets are written from);
   * facts read back for hour rebuilds may leave them out.
   */
  /** True when any of the run's rows says it went to a dead-letter queue. */
  deadLettered?: boolean;
  /** Earliest queued time of the run, Unix ns; null when none was reported. */
  queuedNs?: bigint | null;
  /** The run's `jobslo.cost.amount`; null when none was reported. */
  cost?: number | null;
  /** The run's CPU seconds; null when none were reported. */
  cpuSeconds?: number | null;
  /** The run's peak RSS, bytes; null when none was reported. */
  maxRssBytes?: number | null;
  /** The run's `error.type` (its run row's, else its last attempt's); `''` when none. */
  errorType?: string;
  /*
   * What a run list shows besides the above (minute buckets keep them from
   * format 6); the run derivation gives them.
   */
  /** Trace id of the row that gave the run its final outcome. */
  traceId?: string;
  /** Span id of that row. */
  spanId?: string;
  /** The run row's exit code, else the last attempt's; null when none was reported. */
  exitCode?: number | null;
  /** Status message of the run row, else of the last attempt; `''` when none. */
  message?: string;
}

/** Outcome codes as minute buckets store them; the first three are counted. */
export const OUTCOME_CODES = ['succeeded', 'failed', 'timed_out', 'cancelled', 'skipped'] as const;
/** Code of an outcome outside {@link OUTCOME_CODES} (never counted). */
export const OTHER_OUTCOME_CODE = OUTCOME_CODES.length;

/** The stored code of an outcome. */
export function outcomeCode(outcome: string): number {
  const i = (OUTCOME_CODES as readonly string[]).indexOf(outcome);
  return i < 0 ? OTHER_OUTCOME_CODE : i;
}

const COUNTED = new Set<string>(COUNTED_OUTCOMES);

/** True for outcomes in the success-rate denominator. */
export function isCounted(outcome: string): boolean {
  return COUNTED.has(outcome);
}

/** A latency SLO threshold the hour buckets of the matching jobs keep a good count for. */
export interface RegisteredThreshold {
  jobs: JobSelector;
  thresholdNs: bigint;
}

/** A selector as a matcher of job names (`*` any run of characters, `?` one). */
export function selectorMatcher(selector: JobSelector): (job: string) => boolean {
  if (!/[*?]/.test(selector)) return (job) => job === selector;
  const re = new RegExp(
    `^${[...selector].map((ch) => (ch === '*' ? '[\\s\\S]*' : ch === '?' ? '[\\s\\S]' : ch.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))).join('')}$`,
    'u',
  );
  return (job) => re.test(job);
}

/** The thresholds (ns, ascending, unique) registered for a job. */
export function thresholdsFor(registry: readonly RegisteredThreshold[], job: string): bigint[] {
  const set = new Set<bigint>();
  for (const r of registry) if (selectorMatcher(r.jobs)(job)) set.add(r.thresholdNs);
  return [...set].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** The threshold of a latency criterion in ns, exactly as the raw path compares it. */
export function criterionThresholdNs(criterion: GoodRunCriterion): bigint | null {
  if (criterion.kind !== 'latency') return null;
  if (!Number.isFinite(criterion.thresholdMillis)) throw new RangeError(`not a finite threshold: ${criterion.thresholdMillis}`);
  return BigInt(Math.trunc(criterion.thresholdMillis * 1e6));
}

/** True when a run is good under a criterion (the raw path's rule). */
export function isGood(run: Pick<RunFact, 'outcome' | 'latencyNs'>, thresholdNs: bigint | null): boolean {
  if (run.outcome !== 'succeeded') return false;
  if (thresholdNs === null) return true;
  return run.latencyNs !== null && run.latencyNs <= thresholdNs;
}

/** The contents of one hour bucket of one job. */
export interface HourContent {
  job: string;
  hourNs: bigint;
  /** Runs by outcome code ({@link OUTCOME_CODES}, then other). */
  byOutcome: number[];
  /** Sum of attempts over counted runs. */
  attempts: number;
  /** Thresholds this bucket counts good runs at, ns ascending. */
  thresholdsNs: bigint[];
  /** Succeeded runs with latency at or under each threshold. */
  good: number[];
  /** Latency sketch of counted runs that ran (keys of {@link sketchKey}). */
  sketch: Sketch;
  /**
   * Earliest start, ns, of the hour's runs that have a start and were not
   * skipped (the runs a freshness SLO's first run seen is taken from); null
   * when none.
   */
  firstStartNs: bigint | null;
  /**
   * The starts of the hour's succeeded runs by the minute they started in
   * (whenever that was), ascending: each minute's earliest and latest start,
   * ns. Merged across hours they give the run starts of freshness SLOs
   * coalesced per grace period, for any period of whole minutes.
   */
  succeededStarts: StartMinute[];
}

/** The earliest and latest start, ns, of some runs that started in one minute. */
export interface StartMinute {
  minuteNs: bigint;
  loNs: bigint;
  hiNs: bigint;
}

/** The hour bucket of a job from its runs (all of which end in that hour). */
export function hourContent(job: string, hourNs: bigint, runs: readonly RunFact[], thresholdsNs: readonly bigint[]): HourContent {
  const byOutcome = new Array<number>(OTHER_OUTCOME_CODE + 1).fill(0);
  const good = new Array<number>(thresholdsNs.length).fill(0);
  const sketch: Sketch = new Map();
  let attempts = 0;
  let firstStartNs: bigint | null = null;
  const byMinute = new Map<bigint, StartMinute>();
  for (const r of runs) {
    if (r.startNs !== null && r.outcome === 'succeeded') {
      const minuteNs = floorDiv(r.startNs, MINUTE_NS) * MINUTE_NS;
      const m = byMinute.get(minuteNs);
      if (!m) byMinute.set(minuteNs, { minuteNs, loNs: r.startNs, hiNs: r.startNs });
      else if (r.startNs < m.loNs) m.loNs = r.startNs;
      else if (r.startNs > m.hiNs) m.hiNs = r.startNs;
    }
    const code = outcomeCode(r.outcome);
    byOutcome[code] = (byOutcome[code] ?? 0) + 1;
    if (r.startNs !== null && r.outcome !== 'skipped' && (firstStartNs === null || r.startNs < firstStartNs)) firstStartNs = r.startNs;
    if (!isCounted(r.outcome)) continue;
    attempts += r.attempts;
    if (r.ran && r.latencyNs !== null) sketchAdd(sketch, sketchKey(Number(r.latencyNs) / 1e6));
    thresholdsNs.forEach((t, i) => {
      if (isGood(r, t)) good[i] = (good[i] ?? 0) + 1;
    });
  }
  const succeededStarts = [...byMinute.values()].sort((a, b) => (a.minuteNs < b.minuteNs ? -1 : a.minuteNs > b.minuteNs ? 1 : 0));
  return { job, hourNs, byOutcome, attempts, thresholdsNs: [...thresholdsNs], good, sketch, firstStartNs, succeededStarts };
}

/** Good and total counted runs. */
export interface GoodTotal {
  good: number;
  total: number;
}

/**
 * Good/total of a criterion over whole hour buckets plus edge runs: the
 * rollup answer for one window. Null when an hour bucket with succeeded runs
 * does not count the criterion's threshold (it must be rebuilt first; an SLO
 * count is never approximated).
 */
export function countFromParts(criterion: GoodRunCriterion, hours: readonly HourContent[], edgeRuns: readonly RunFact[]): GoodTotal | null {
  const thr = criterionThresholdNs(criterion);
  let good = 0;
  let total = 0;
  for (const h of hours) {
    const succeeded = h.byOutcome[0] ?? 0;
    total += succeeded + (h.byOutcome[1] ?? 0) + (h.byOutcome[2] ?? 0);
    if (thr === null) good += succeeded;
    else if (succeeded > 0) {
      const i = h.thresholdsNs.indexOf(thr);
      if (i < 0) return null;
      good += h.good[i] ?? 0;
    }
  }
  for (const r of edgeRuns) {
    if (!isCounted(r.outcome)) continue;
    total++;
    if (isGood(r, thr)) good++;
  }
  return { good, total };
}
