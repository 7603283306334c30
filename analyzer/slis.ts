import { compareStrings } from '../store/index.js';
import type { DimensionFilter, JobAggregate, QueueDepth, RunReader, TimeRange } from '../store/index.js';

function emptyAggregate(job: string): JobAggregate {
  return {
    job,
    runs: 0,
    succeeded: 0,
    failed: 0,
    timedOut: 0,
    cancelled: 0,
    skipped: 0,
    deadLettered: 0,
    latencyP50Millis: null,
    latencyP95Millis: null,
    latencyP99Millis: null,
    retries: 0,
    queueDelayP50Millis: null,
    queueDelayP95Millis: null,
    queuedRuns: 0,
    costTotal: null,
    costedRuns: 0,
    cpuSecondsTotal: null,
    cpuRuns: 0,
    maxRssP95Bytes: null,
    failureModes: {},
  };
}

/** Per-job SLIs, the `jobs[]` element of `jobslo analyze --format json`. Field names are a stable contract. */
export interface JobSlis {
  job: string;
  /** The job's runs with this value of the `group_by` dimension (`''`: runs without it); present only with `group_by`. */
  group?: string;
  /** Runs with a counted outcome: succeeded + failed (failed includes timed out). */
  runs: number;
  succeeded: number;
  failed: number;
  /** succeeded / runs, 0..1; null when runs is 0 (only skipped or cancelled runs). */
  success_rate: number | null;
  /** Run latency (first attempt start to final attempt end) over counted runs, ms; null when runs is 0. */
  latency_ms: { p50: number | null; p95: number | null; p99: number | null };
  /** Mean retries (attempts - 1) per counted run; 0 when runs is 0. */
  retries_per_run: number;
  timed_out: number;
  cancelled: number;
  skipped: number;
  dead_lettered: number;
  /** dead_lettered / runs; null when runs is 0. */
  dlq_rate: number | null;
  /** Queued to first attempt start, over runs that reported a queued time, ms; null without any. */
  queue_delay_ms: { p50: number | null; p95: number | null };
  /** Total cost of counted runs that reported one; null when none did. */
  cost_total: number | null;
  /** cost_total / runs that reported a cost; null when none did. */
  cost_per_run: number | null;
  /** CPU seconds per counted run that reported it; null when none did. */
  cpu_seconds_per_run: number | null;
  /** 95th percentile of runs' peak RSS, bytes; null when none reported it. */
  max_rss_bytes_p95: number | null;
  /** Failed and timed-out runs by failure mode (exit code, `timeout`, exception type). */
  failure_modes: Record<string, number>;
  /**
   * Runs queued and not started at the window's end (`now`), and the most
   * waiting at once in the window (`max`). Always the whole job's: waiting
   * runs carry no dimensions, so `where` and `group_by` do not apply to it.
   */
  queue_depth: { now: number; max: number };
}

/** Dimension filter and grouping of {@link analyze}. */
export interface AnalyzeOptions {
  /** Only runs whose dimensions have these exact values (e.g. `{ 'deployment.environment.name': 'prod' }`). @default {} */
  where?: DimensionFilter;
  /** One row per job and value of this dimension key (e.g. `service.name`). @default none */
  groupBy?: string;
  /**
   * Read queue depths (`queue_depth`, and jobs whose runs are all still
   * waiting). False skips that read: every `queue_depth` is zero and only
   * jobs with finished runs are listed (what a comparison with an earlier
   * period needs). @default true
   */
  queueDepths?: boolean;
}

/** The document `jobslo analyze --format json` prints. */
export interface Analysis {
  /** Start of the window, ISO-8601 (inclusive). */
  from: string;
  /** End of the window, ISO-8601 (exclusive). */
  to: string;
  /** The dimension filter, when one was given. */
  where?: Record<string, string>;
  /** The dimension key the jobs are grouped by, when one was given. */
  group_by?: string;
  jobs: JobSlis[];
}

const round = (n: number, digits = 3): number => {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
};

const roundOrNull = (n: number | null, digits = 3): number | null => (n === null ? null : round(n, digits));

/** Shapes one store aggregate into the public SLI record. Pure. */
export function toJobSlis(a: JobAggregate, depth: QueueDepth = { job: a.job, now: 0, max: 0 }): JobSlis {
  return {
    job: a.job,
    ...(a.group === undefined ? {} : { group: a.group }),
    runs: a.runs,
    succeeded: a.succeeded,
    failed: a.failed,
    success_rate: a.runs === 0 ? null : round(a.succeeded / a.runs, 6),
    latency_ms: { p50: roundOrNull(a.latencyP50Millis), p95: roundOrNull(a.latencyP95Millis), p99: roundOrNull(a.latencyP99Millis) },
    retries_per_run: a.runs === 0 ? 0 : round(a.retries / a.runs, 6),
    timed_out: a.timedOut,
    cancelled: a.cancelled,
    skipped: a.skipped,
    dead_lettered: a.deadLettered,
    dlq_rate: a.runs === 0 ? null : round(a.deadLettered / a.runs, 6),
    queue_delay_ms: { p50: roundOrNull(a.queueDelayP50Millis), p95: roundOrNull(a.queueDelayP95Millis) },
    cost_total: roundOrNull(a.costTotal, 6),
    cost_per_run: a.costTotal === null || a.costedRuns === 0 ? null : round(a.costTotal / a.costedRuns, 6),
    cpu_seconds_per_run: a.cpuSecondsTotal === null || a.cpuRuns === 0 ? null : round(a.cpuSecondsTotal / a.cpuRuns, 6),
    max_rss_bytes_p95: a.maxRssP95Bytes === null ? null : Math.round(a.maxRssP95Bytes),
    failure_modes: a.failureModes,
    queue_depth: { now: depth.now, max: depth.max },
  };
}

/**
 * Computes per-job SLIs for runs that finished in `range`; aggregation runs
 * inside the store. With `options.where`, only runs with those dimension
 * values count; with `options.groupBy`, there is one entry per job and value
 * of that dimension (`group`).
 */
export async function analyze(store: RunReader, range: TimeRange, options: AnalyzeOptions = {}): Promise<Analysis> {
  const where = options.where !== undefined && Object.keys(options.where).length > 0 ? options.where : undefined;
  const groupBy = options.groupBy;
  const query = { ...range, ...(where === undefined ? {} : { where }), ...(groupBy === undefined ? {} : { groupBy }) };
  const [aggregates, depths] = await Promise.all([store.jobAggregates(query), options.queueDepths === false ? [] : store.queueDepths(range)]);
  const depthOf = new Map(depths.map((d) => [d.job, d]));
  const jobs = aggregates.map((a) => toJobSlis(a, depthOf.get(a.job)));
  // A job whose runs are all still waiting has no finished run yet, but is
  // queued; waiting runs have no dimensions, so not under a filter or grouping.
  if (where === undefined && groupBy === undefined) {
    for (const d of depths) {
      if (!aggregates.some((a) => a.job === d.job)) jobs.push(toJobSlis(emptyAggregate(d.job), d));
    }
  }
  jobs.sort((x, y) => compareStrings(x.job, y.job) || compareStrings(x.group ?? '', y.group ?? ''));
  return {
    from: new Date(range.fromMillis).toISOString(),
    to: new Date(range.toMillis).toISOString(),
    ...(where === undefined ? {} : { where: { ...where } }),
    ...(groupBy === undefined ? {} : { group_by: groupBy }),
    jobs,
  };
}
